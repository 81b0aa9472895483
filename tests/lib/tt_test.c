/* The GLib harness of the C tests (tt_test.h). */
#include <string.h>

#include <glib/gstdio.h>

#include "tt_test.h"

static char *scratch_dir;
static GPtrArray *kept;          /* tt_test_keep: freed by tt_test_run */

/* A test or a table of cases declared by TT_TEST / TT_TEST_CASES. */
typedef struct {
    int line;                  /* where: tests are registered in source order */
    const char *path;          /* the test's path, or the cases' prefix */
    GTestFunc fn;              /* a test ... */
    const void *cases;         /* ... or n cases of size bytes for case_fn */
    size_t n, size;
    GTestDataFunc case_fn;
    gboolean isolated;         /* each case in a child process */
} declared;

static GArray *declared_tests;   /* of declared, filled before main */

void tt_test_declare(int line, const char *path, GTestFunc fn, const void *cases, size_t n, size_t size,
                     GTestDataFunc case_fn, gboolean isolated)
{
    if (!declared_tests)
        declared_tests = g_array_new(FALSE, FALSE, sizeof(declared));
    const declared d = { line, path, fn, cases, n, size, case_fn, isolated };
    g_array_append_val(declared_tests, d);
}

static gint by_line(gconstpointer a, gconstpointer b)
{
    return ((const declared *)a)->line - ((const declared *)b)->line;
}

/* A case of TT_TEST_CASES_ISOLATED: the function and its entry. */
typedef struct {
    GTestDataFunc fn;
    const void *c;
} isolated_case;

/* Runs the case in a child process (this test again, as a GLib test
 * subprocess): a crash or an abort there fails the case with the child's
 * output, not the whole program. */
static void run_isolated(gconstpointer data)
{
    const isolated_case *ic = data;
    if (g_test_subprocess()) {
        ic->fn(ic->c);
        return;
    }
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT | G_TEST_SUBPROCESS_INHERIT_STDERR);
    if (!g_test_trap_has_passed())   /* this case fails by name (-k: the next ones still run) */
        g_test_fail_printf("%s failed in its child process (its output is above)", g_test_get_path());
}

/* Registers fn once per entry of a table of cases, as PREFIX/NAME where NAME is
 * the entry's first member (a const char *); fn gets the entry. */
static void add_cases(const declared *d)
{
    for (size_t i = 0; i < d->n; i++) {
        const void *c = (const char *)d->cases + i * d->size;
        const char *name;
        memcpy(&name, c, sizeof name);
        char *path = g_strdup_printf("%s/%s", d->path, name);
        if (d->isolated) {
            isolated_case *ic = tt_test_keep(g_new(isolated_case, 1));
            *ic = (isolated_case){ d->case_fn, c };
            g_test_add_data_func(path, ic, run_isolated);
        } else {
            g_test_add_data_func(path, c, d->case_fn);
        }
        g_free(path);
    }
}

void tt_test_init(int *argc, char ***argv)
{
    g_setenv("G_TEST_SRCDIR", TT_TESTS_SRCDIR, FALSE);   /* a value from the caller wins */
    g_test_init(argc, argv, NULL);
    char *tmpl = g_build_filename(g_get_tmp_dir(), "tt-test.XXXXXX", NULL);
    scratch_dir = g_mkdtemp(tmpl);
    g_assert_nonnull(scratch_dir);
    if (!declared_tests)
        return;
    g_array_sort(declared_tests, by_line);
    for (guint i = 0; i < declared_tests->len; i++) {
        const declared *d = &g_array_index(declared_tests, declared, i);
        if (d->fn)
            g_test_add_func(d->path, d->fn);
        else
            add_cases(d);
    }
    g_array_free(declared_tests, TRUE);
    declared_tests = NULL;
}

char *tt_test_scratch(const char *name)
{
    g_assert_nonnull(scratch_dir);
    return g_build_filename(scratch_dir, name, NULL);
}

gpointer tt_test_keep(gpointer p)
{
    if (!kept)
        kept = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(kept, p);
    return p;
}

int tt_test_run(void)
{
    int rc = g_test_run();
    g_clear_pointer(&kept, g_ptr_array_unref);
    GDir *d = g_dir_open(scratch_dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d)) != NULL) {
        char *path = g_build_filename(scratch_dir, name, NULL);
        g_remove(path);
        g_free(path);
    }
    if (d)
        g_dir_close(d);
    g_rmdir(scratch_dir);
    g_free(scratch_dir);
    scratch_dir = NULL;
    return rc;
}
