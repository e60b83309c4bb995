/*
 * mock_kind.h - a step kind for the tests only (mock_kind.c), put in the
 * kind table with fr_step_kind_test_register(&fr_step_mock), before the
 * catch-all script kind: it claims *.mock files, executable or not.
 *
 * A mock step is a tiny language, one command a line ('#' lines and blank
 * lines are comments, surrounding blanks ignored):
 *   touch PATH    forward creates the empty file PATH under the root
 *                 (and its folders); one that exists is left as it is
 *   fail          forward fails here, removing what it created before
 *   # down        the rest is the down: what undo does
 *   rm PATH       undo removes PATH (gone already: nothing to do)
 * PATH is relative, inside the root (no '..'). A step has at least one
 * forward command; it is reversible when its down holds an rm, and its
 * check says "done" when every PATH it touches exists. It is on no
 * database and never in a transaction. The registry keeps its down
 * ("rm a\nrm b\n"), which undo reads alone, without the file.
 */
#ifndef FR_TEST_MOCK_KIND_H
#define FR_TEST_MOCK_KIND_H

#include "step/step.h"

extern const fr_step_kind fr_step_mock;

#endif
