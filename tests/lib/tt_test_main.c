/* The main of a test program that has nothing to do but its tests (those
 * TT_TEST and TT_TEST_CASES declared): library tt_testmain. A program with a
 * main of its own keeps it (a static library's object is linked only for a
 * symbol still missing). */
#include "tt_test.h"

int main(int argc, char **argv)
{
    tt_test_init(&argc, &argv);
    return tt_test_run();
}
