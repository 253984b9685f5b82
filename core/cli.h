/*
 * cli.h - what the commands of the borough command line share, and the
 * commands themselves (one file each: cmd_<name>.c). main.c dispatches.
 * Exit status of every command: 0 success, 1 a user error (one line saying
 * what and where, like "apps/grants/app.lua:12: ..."), 2 bad usage.
 */
#ifndef BO_CLI_H
#define BO_CLI_H

#include "bo.h"
#include "buf.h"
#include "db.h"

#include <stdint.h>

typedef struct bo_cli {
    const char *name;          /* the command */
    const char *usage;         /* its usage line(s), for messages */
    const char *lib_arg;       /* --lib DIR, or NULL */
} bo_cli;

/* Prints "borough: <message>" and the command's usage on stderr; returns 2. */
int bo_cli_usage(const bo_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "borough <command>: <message>" on stderr; returns 1. */
int bo_cli_fail(const bo_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The platform library (lua/): --lib, $BOROUGH_LIB, beside the binary, or
   installed. Returns a new absolute path, or NULL (after saying so). */
char *bo_cli_lib(const bo_cli *cli);

bool bo_cli_is_dir(const char *path);
int bo_cli_parse_uint(const char *s, unsigned long max, unsigned long *out);
int bo_cli_parse_seconds(const char *s, uint64_t *ms);
/* Removes a folder and everything under it. */
int bo_cli_remove_tree(const char *path);
/* Who the command line acts as in the platform audit log:
   "cli:<operating-system user>". */
const char *bo_cli_who(char *buf, size_t cap);
/* Writes a platform audit row naming bo_cli_who; returns 0, or 1 after
   saying why it could not. */
int bo_cli_audit(const bo_cli *cli, bo_db *db, const char *action, const char *app, const char *detail);

/* Sends the request line to the server running with the data folder data
   (control.h) and relays its answer: "out" lines to stdout, "err" lines
   to stderr, each also appended to said (if not NULL) followed by '\n'.
   Returns the exit status the server gives, or 1 after saying why there
   is none (no server, no answer). */
int bo_cli_ask_server(const bo_cli *cli, const char *data, const char *request, bo_buf *said);

int bo_cmd_serve(int argc, char **argv, const bo_cli *cli);
int bo_cmd_check(int argc, char **argv, const bo_cli *cli);
int bo_cmd_reload(int argc, char **argv, const bo_cli *cli);
int bo_cmd_import(int argc, char **argv, const bo_cli *cli);
int bo_cmd_export(int argc, char **argv, const bo_cli *cli);
int bo_cmd_migrate_to_postgres(int argc, char **argv, const bo_cli *cli);
int bo_cmd_new(int argc, char **argv, const bo_cli *cli);
int bo_cmd_test(int argc, char **argv, const bo_cli *cli);
int bo_cmd_user(int argc, char **argv, const bo_cli *cli);
int bo_cmd_keys(int argc, char **argv, const bo_cli *cli);
int bo_cmd_audit(int argc, char **argv, const bo_cli *cli);
int bo_cmd_sso(int argc, char **argv, const bo_cli *cli);
int bo_cmd_token(int argc, char **argv, const bo_cli *cli);
int bo_cmd_status(int argc, char **argv, const bo_cli *cli);
int bo_cmd_outbox(int argc, char **argv, const bo_cli *cli);
int bo_cmd_jobs(int argc, char **argv, const bo_cli *cli);

#endif
