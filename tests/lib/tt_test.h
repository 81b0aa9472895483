/* What the C tests share (tests/lib/): the GLib harness every tests/unit
 * program starts with (a private scratch folder, data found through
 * g_test_build_filename, tables of cases registered by name), and the small
 * specs and models the tests build. Link tt_testlib (and tt_testmain for its
 * main). */
#ifndef TT_TEST_H
#define TT_TEST_H

#include <glib.h>

#include "tt_dataset.h"
#include "tt_model.h"

G_BEGIN_DECLS

/* ---- the harness: tt_test.c -------------------------------------------------------------- */

/* A test, declared where it is written, with its path:
 *     TT_TEST("/flow/table/keys", test_keys)
 *     {
 *         ...
 *     }
 * and a table of cases (one test per entry, as PREFIX/NAME where NAME is the
 * entry's first member, a const char *; fn gets the entry), at file scope:
 *     TT_TEST_CASES("/model/hostile", cases, test_hostile);
 * A table of inputs that must not crash the program (hostile files, odd
 * packets) is declared with TT_TEST_CASES_ISOLATED: each case runs in a child
 * process (g_test_trap_subprocess), so that a crash or an abort fails that
 * case by name, with the child's output, instead of killing the program
 * (`-k` goes on with the other cases).
 * tt_test_init registers them all, in the order of the source. A program
 * with nothing else to do has no main: tt_testmain's (tt_test_main.c) is
 * tt_test_init, then tt_test_run; one with more to register or set up has
 * its own main, with the same two calls around it.
 * (A constructor declares each one before main: g_test_add_* needs g_test_init.) */
#define TT_TEST(path, fn)                                                         \
    static void fn(void);                                                         \
    __attribute__((constructor)) static void fn##_declare(void)                   \
    {                                                                             \
        tt_test_declare(__LINE__, (path), fn, NULL, 0, 0, NULL, FALSE);           \
    }                                                                             \
    static void fn(void)
#define TT_TEST_CASES_IN(prefix, cases, fn, isolated)                             \
    __attribute__((constructor)) static void fn##_declare(void)                   \
    {                                                                             \
        tt_test_declare(__LINE__, (prefix), NULL, (cases), G_N_ELEMENTS(cases),   \
                        sizeof (cases)[0], (fn), (isolated));                     \
    }                                                                             \
    G_STATIC_ASSERT(sizeof (cases)[0] >= sizeof (const char *))
#define TT_TEST_CASES(prefix, cases, fn) TT_TEST_CASES_IN(prefix, cases, fn, FALSE)
#define TT_TEST_CASES_ISOLATED(prefix, cases, fn) TT_TEST_CASES_IN(prefix, cases, fn, TRUE)
void tt_test_declare(int line, const char *path, GTestFunc fn, const void *cases, size_t n, size_t size,
                     GTestDataFunc case_fn, gboolean isolated);

/* g_test_init, with G_TEST_SRCDIR defaulting to the source tree's tests/ folder
 * (so that g_test_build_filename(G_TEST_DIST, "captures", "long.pcap", NULL)
 * finds tests/captures/long.pcap), and a private scratch folder for
 * tt_test_scratch; then registers the tests TT_TEST and TT_TEST_CASES declared. */
void tt_test_init(int *argc, char ***argv);
/* g_test_run, then the scratch folder removed with what the tests left in it. */
int tt_test_run(void);
/* A new path NAME in this program's scratch folder (free it with g_free); the
 * file is removed by tt_test_run, the tests need not remove it. */
char *tt_test_scratch(const char *name);
/* Returns p, g_free'd by tt_test_run: data the tests of a program share. */
gpointer tt_test_keep(gpointer p);


/* ---- specs and models: tt_test_model.c ---------------------------------------------------- */

/* The SHA-256 in a model file's header made right for its body again (after a
 * test changed bytes of the body, to reach the checks that come after it). */
void tt_test_rechecksum(guint8 *file, gsize len);

/* tt_spec_init_mini(side) with the block length, packet bounds and idle timeout
 * a test wants. */
void tt_test_spec(tt_spec *spec, uint32_t side, double block_seconds, uint32_t min_packets,
                  uint32_t max_packets, double idle_timeout);

/* The dataset of the file at path for spec (tt_dataset_add_file, finished):
 * fails the test on an error. */
tt_dataset *tt_test_dataset(const tt_spec *spec, const char *path);

/* The model's file as bytes (tt_model_to_bytes): fails the test on an error. */
GBytes *tt_test_model_bytes(tt_model *m);
/* The model written to bytes and read back (tt_model_load_bytes): fails the
 * test on an error. */
tt_model *tt_test_reload(tt_model *m);

typedef enum {
    TT_TEST_NET_TINY,       /* conv 2@3x3 (pad 1), relu, maxpool 2, dense */
    TT_TEST_NET_TWO_CONV,   /* conv 2@3x3 (pad 1), relu, maxpool 2, conv 3@3x3, relu, dense */
    TT_TEST_NET_LENET       /* the stock LeNet (tt_arch_model) */
} tt_test_net;

/* A "category" model NAME over spec with the net `net` for n_classes classes
 * (classes NULL: "a", "b", "c", ...; at most 8), weights from seed, prepared for
 * inference. NULL with the error when the net does not fit the spec. */
tt_model *tt_test_model(tt_test_net net, const tt_spec *spec, const char *name, const char *const *classes,
                        uint32_t n_classes, uint64_t seed, GError **error);

G_END_DECLS

#endif
