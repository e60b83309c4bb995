/*
 * fuzz_ops.c - ops files (lib/step/ops/parse.c), through the kind's
 * load() and describe(). describe() runs on a root of its own that holds
 * a config.json, a settings.yaml and a .env, so the dry run reads them,
 * edits them in memory through their editors and prints a diff; it never
 * writes (the files are checked to be unchanged). A load either succeeds
 * or fails with a message naming the file.
 */
#include "fuzz.h"
#include "step/step.h"

#include <sys/stat.h>

static const char json_doc[] = "{\n  \"name\": \"app\",\n  \"port\": 8080,\n"
                               "  \"db\": {\"host\": \"localhost\", \"pool\": [1, 2]}\n}\n";
static const char yaml_doc[] = "# settings\nname: app\nport: 8080\ndb:\n  host: localhost\n"
                               "  pool:\n    - 1\n    - 2\n";
static const char env_doc[] = "# env\nAPP_NAME=app\nexport PORT=8080\nSECRET=\"a b\"\n";

static char root[300], path[400];

static void setup(void)
{
	snprintf(root, sizeof root, "%s/root", fz_dir());
	snprintf(path, sizeof path, "%s/migrations/v0.1.0_to_v0.2.0/0001_x.yaml", root);
	check(mkdir(root, 0700) == 0);
	fz_write(root, "config.json", json_doc, sizeof json_doc - 1);
	fz_write(root, "settings.yaml", yaml_doc, sizeof yaml_doc - 1);
	fz_write(root, ".env", env_doc, sizeof env_doc - 1);
}

static void unchanged(const char *name, const char *want, size_t n)
{
	fr_buf b = FR_BUF_INIT;
	char *p = fr_path_join(root, name);
	check(p && fr_read_file(p, &b) == 0);
	check(b.len == n && !memcmp(b.ptr, want, n));
	fr_buf_release(&b);
	fr_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char rel[] = "migrations/v0.1.0_to_v0.2.0/0001_x.yaml";
	const fr_step_kind *k = &fr_step_ops;
	fr_buf err = FR_BUF_INIT, out = FR_BUF_INIT;
	fr_step s;
	char *text;

	if (size > 65536)
		return 0;
	if (!root[0])
		setup();
	memset(&s, 0, sizeof s);
	s.name = "0001_x.yaml";
	s.rel = (char *)rel;
	s.path = path;
	s.id = "0.2.0/0001_x.yaml";
	s.kind = k;
	text = fz_str(data, size);
	if (k->load(&s, text, size, &err) == 0) {
		check(s.priv != NULL);
		check(k->describe(&s, &out) == 0 && out.len > 0);
		k->unload(&s);
	} else {
		check(err.len > 0);
		check(!strncmp(err.ptr, rel, strlen(rel)));
	}
	fr_free(text);
	fr_buf_release(&err);
	fr_buf_release(&out);
	unchanged("config.json", json_doc, sizeof json_doc - 1);
	unchanged("settings.yaml", yaml_doc, sizeof yaml_doc - 1);
	unchanged(".env", env_doc, sizeof env_doc - 1);
	return 0;
}
