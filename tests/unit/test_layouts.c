/* test_layouts.c - other tools' folders (lib/layout/): each layout's reading, detection. */
#include "helpers.h"

#include "catalog.h"
#include "layout/layout.h"

static void every_layout_is_complete(void **state)
{
	const char *names[] = { "dbmate", "goose", "golang-migrate", "flyway", "diesel", "sqlx" };
	size_t i;
	(void)state;
	for (i = 0; i < sizeof names / sizeof *names; i++) {
		fr_buf why = FR_BUF_INIT;
		const fr_layout *l = fr_layout_find(names[i]);
		assert_non_null(l);
		assert_int_equal(fr_layout_complete(l, &why), 0);
		assert_int_equal(why.len, 0);
		fr_buf_release(&why);
	}
	assert_null(fr_layout_find("ferry"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_layout_is_complete),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
