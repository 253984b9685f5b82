/*
 * main.c - the borough command line (see DESIGN.md, "Command line"): finds
 * the command in the table below and runs it. Each command lives in its own
 * cmd_<name>.c; what they share is in cli.c.
 */
#include "cli.h"
#include "db.h"

#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static int cmd_version(int argc, char **argv, const bo_cli *cli)
{
    BO_UNUSED(argv);
    if (argc > 0)
        return bo_cli_usage(cli, "takes no arguments");
    printf("borough %s (Lua %s.%s, %s, libuv %s)\n", BO_VERSION, LUA_VERSION_MAJOR,
           LUA_VERSION_MINOR, bo_db_version(), uv_version_string());
    return 0;
}

static int cmd_help(int argc, char **argv, const bo_cli *cli);

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv, const bo_cli *cli);
    const char *usage;
} commands[] = {
    { "serve", bo_cmd_serve,
      "borough serve [APPS_DIR] [--listen HOST:PORT] [--data DIR] [--workers N]\n"
      "                     [--log-format text|json] [--no-access-log] [--max-conns N]\n"
      "                     [--header-timeout S] [--body-timeout S] [--idle-timeout S] [--drain S]\n"
      "                     [--session-idle S] [--session-max S] [--heartbeat S] [--max-streams N]\n"
      "                     [--watch] [--metrics-from CIDR]... [--public-url URL]\n"
      "                     [--tls-cert FILE --tls-key FILE [--redirect-http HOST:PORT] [--handshake-timeout S]]" },
    { "reload", bo_cmd_reload, "borough reload [APP] [--data DIR] [--rollback]" },
    { "check", bo_cmd_check, "borough check [PATH]" },
    { "import", bo_cmd_import,
      "borough import APP ENTITY FILE.csv [--mapping FILE | --map COLUMN=FIELD ...] [--skip-bad-rows]\n"
      "                     [--rejects FILE] [--data DIR] [--apps DIR]" },
    { "export", bo_cmd_export, "borough export APP [--format csv|json] OUT [--data DIR]" },
    { "migrate-to-postgres", bo_cmd_migrate_to_postgres,
      "borough migrate-to-postgres --database URL [--data DIR] [--apps DIR] [--replace]" },
    { "new", bo_cmd_new, "borough new NAME [--apps DIR]" },
    { "test", bo_cmd_test, "borough test [PATH]" },
    { "keys", bo_cmd_keys, "borough keys list|rotate|retire ID [--data DIR]" },
    { "audit", bo_cmd_audit,
      "borough audit [--who TEXT] [--app APP] [--action ACTION] [--since DATE] [--until DATE]\n"
      "                     [--limit N] [--data DIR]\n"
      "       borough audit verify [--data DIR]" },
    { "user", bo_cmd_user,
      "borough user add EMAIL --name NAME [--password-file FILE] [--data DIR]\n"
      "       borough user password EMAIL [--password-file FILE] [--data DIR]\n"
      "       borough user role EMAIL APP ROLE [--remove] [--data DIR]\n"
      "       borough user list [SEARCH] [--data DIR]\n"
      "       borough user show EMAIL [--data DIR]\n"
      "       borough user disable|enable EMAIL [--data DIR]\n"
      "       borough user 2fa-reset|sessions-end EMAIL [--data DIR]" },
    { "outbox", bo_cmd_outbox,
      "borough outbox list [APP] [--state STATE] [--limit N] [--data DIR]\n"
      "       borough outbox retry|cancel APP ID [--data DIR]" },
    { "jobs", bo_cmd_jobs,
      "borough jobs list [APP] [--state STATE] [--limit N] [--data DIR]\n"
      "       borough jobs retry|cancel APP ID [--data DIR]" },
    { "status", bo_cmd_status, "borough status [--data DIR]" },
    { "sso", bo_cmd_sso,
      "borough sso show|test [--data DIR]\n"
      "       borough sso set KEY=VALUE ... | unset KEY ... [--data DIR]\n"
      "       borough sso map VALUE APP ROLE [--remove] [--data DIR]\n"
      "       borough sso link EMAIL SUBJECT | unlink EMAIL [--data DIR]" },
    { "token", bo_cmd_token,
      "borough token create APP --entities A,B --name NAME [--role R,S] [--expires 90d|12h] [--data DIR]\n"
      "       borough token list [APP] [--data DIR]\n"
      "       borough token revoke ID [--data DIR]" },
    { "version", cmd_version, "borough version" },
    { "help", cmd_help, "borough help" },
};

static void print_usage(FILE *out)
{
    fputs("usage:\n", out);
    for (size_t i = 0; i < BO_COUNT(commands); i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fputs("Every command also takes --lib DIR (the platform's lua/ folder).\n", out);
}

static int cmd_help(int argc, char **argv, const bo_cli *cli)
{
    BO_UNUSED(argc);
    BO_UNUSED(argv);
    BO_UNUSED(cli);
    print_usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0)
        name = "version";
    else if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        name = "help";
    const struct command *cmd = NULL;
    for (size_t i = 0; i < BO_COUNT(commands); i++)
        if (strcmp(commands[i].name, name) == 0)
            cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "borough: unknown command %s\n", argv[1]);
        print_usage(stderr);
        return 2;
    }
    bo_cli cli = { cmd->name, cmd->usage, NULL };
    /* --lib DIR may come anywhere after the command. */
    char **rest = bo_calloc((size_t)argc, sizeof *rest);
    int nrest = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--lib") == 0) {
            if (i + 1 >= argc) {
                free(rest);
                return bo_cli_usage(&cli, "--lib needs a value");
            }
            cli.lib_arg = argv[++i];
        } else {
            rest[nrest++] = argv[i];
        }
    }
    bo_db_global_init();
    int status = cmd->run(nrest, rest, &cli);
    free(rest);
    return status;
}
