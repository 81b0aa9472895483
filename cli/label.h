/* traffictriage label: label the flows of captures with nDPI as the teacher,
 * as a #ttmanifest that `traffictriage train` reads (models/TRAINING-DATA.md).
 * Built with libndpi when CMake finds it (pkg-config libndpi); without it
 * the command says how to get it and fails. */
#ifndef TT_CLI_LABEL_H
#define TT_CLI_LABEL_H

/* The `label` command: argv[0] is "label". Returns the exit status. */
int tt_cli_label(int argc, char **argv);

#endif
