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
} declared;

static GArray *declared_tests;   /* of declared, filled before main */

void tt_test_declare(int line, const char *path, GTestFunc fn, const void *cases, size_t n, size_t size,
                     GTestDataFunc case_fn)
{
    if (!declared_tests)
        declared_tests = g_array_new(FALSE, FALSE, sizeof(declared));
    const declared d = { line, path, fn, cases, n, size, case_fn };
    g_array_append_val(declared_tests, d);
}

static gint by_line(gconstpointer a, gconstpointer b)
{
    return ((const declared *)a)->line - ((const declared *)b)->line;
}

/* Registers fn once per entry of a table of cases, as PREFIX/NAME where NAME is
 * the entry's first member (a const char *); fn gets the entry. */
static void add_cases(const char *prefix, const void *cases, size_t n, size_t size, GTestDataFunc fn)
{
    for (size_t i = 0; i < n; i++) {
        const void *c = (const char *)cases + i * size;
        const char *name;
        memcpy(&name, c, sizeof name);
        char *path = g_strdup_printf("%s/%s", prefix, name);
        g_test_add_data_func(path, c, fn);
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
            add_cases(d->path, d->cases, d->n, d->size, d->case_fn);
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
