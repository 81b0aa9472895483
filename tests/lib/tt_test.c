/* The GLib harness of the C tests (tt_test.h). */
#include <string.h>

#include <glib/gstdio.h>

#include "tt_test.h"

static char *scratch_dir;

void tt_test_init(int *argc, char ***argv)
{
    g_setenv("G_TEST_SRCDIR", TT_TESTS_SRCDIR, FALSE);   /* a value from the caller wins */
    g_test_init(argc, argv, NULL);
    char *tmpl = g_build_filename(g_get_tmp_dir(), "tt-test.XXXXXX", NULL);
    scratch_dir = g_mkdtemp(tmpl);
    g_assert_nonnull(scratch_dir);
}

char *tt_test_scratch(const char *name)
{
    g_assert_nonnull(scratch_dir);
    return g_build_filename(scratch_dir, name, NULL);
}

int tt_test_run(void)
{
    int rc = g_test_run();
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

void tt_test_add_cases(const char *prefix, const void *cases, size_t n, size_t size, GTestDataFunc fn)
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
