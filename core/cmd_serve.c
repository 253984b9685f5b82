/*
 * cmd_serve.c - `borough serve [APPS_DIR] [options]`: runs the server.
 */
#include "assets.h"
#include "cli.h"
#include "db.h"
#include "log.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* HOST:PORT or [IPV6]:PORT; the host is copied into host (hostlen bytes),
   which *host_out then points to. */
static int parse_address(const char *s, const char **host_out, int *port_out, char *host, size_t hostlen)
{
    const char *colon = strrchr(s, ':');
    unsigned long port;
    if (!colon || bo_cli_parse_uint(colon + 1, 65535, &port) < 0)
        return -1;
    size_t n = (size_t)(colon - s);
    if (n >= 2 && s[0] == '[' && s[n - 1] == ']')
        s++, n -= 2;
    if (n == 0 || n >= hostlen)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    *host_out = host;
    *port_out = (int)port;
    return 0;
}

int bo_cmd_serve(int argc, char **argv, const bo_cli *cli)
{
    bo_config cfg;
    char host[256], redirect_host[256];
    const char *database = NULL;
    bo_config_defaults(&cfg);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long n;
        if (a[0] != '-') {
            cfg.apps_dir = a;
            continue;
        }
        if (strcmp(a, "--no-access-log") == 0) {
            cfg.access_log = false;
            continue;
        }
        if (strcmp(a, "--watch") == 0) {
            cfg.watch = true;
            continue;
        }
        if (!v)
            return bo_cli_usage(cli, "%s needs a value", a);
        i++;
        if (strcmp(a, "--listen") == 0) {
            if (parse_address(v, &cfg.host, &cfg.port, host, sizeof host) < 0)
                return bo_cli_usage(cli, "--listen wants HOST:PORT, not %s", v);
        } else if (strcmp(a, "--tls-cert") == 0) {
            cfg.tls_cert = v;
        } else if (strcmp(a, "--tls-key") == 0) {
            cfg.tls_key = v;
        } else if (strcmp(a, "--redirect-http") == 0) {
            if (parse_address(v, &cfg.redirect_host, &cfg.redirect_port, redirect_host, sizeof redirect_host) < 0)
                return bo_cli_usage(cli, "--redirect-http wants HOST:PORT, not %s", v);
        } else if (strcmp(a, "--handshake-timeout") == 0) {
            if (bo_cli_parse_seconds(v, &cfg.handshake_timeout_ms) < 0 || cfg.handshake_timeout_ms == 0)
                return bo_cli_usage(cli, "--handshake-timeout wants seconds, not %s", v);
        } else if (strcmp(a, "--public-url") == 0) {
            if (!bo_public_url_valid(v))
                return bo_cli_usage(cli, "--public-url wants the site's address, like https://grants.example.gov.uk, "
                                         "not %s", v);
            cfg.public_url = v;
        } else if (strcmp(a, "--data") == 0) {
            cfg.data_dir = v;
        } else if (strcmp(a, "--database") == 0) {
            database = v;
        } else if (strcmp(a, "--workers") == 0) {
            if (bo_cli_parse_uint(v, 256, &n) < 0 || n == 0)
                return bo_cli_usage(cli, "--workers wants a number from 1 to 256, not %s", v);
            cfg.workers = (int)n;
        } else if (strcmp(a, "--max-conns") == 0) {
            if (bo_cli_parse_uint(v, 1000000, &n) < 0 || n == 0)
                return bo_cli_usage(cli, "--max-conns wants a positive number, not %s", v);
            cfg.max_conns = (unsigned)n;
        } else if (strcmp(a, "--log-format") == 0) {
            if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0)
                return bo_cli_usage(cli, "--log-format is text or json, not %s", v);
            bo_log_set_json(strcmp(v, "json") == 0);
        } else if (strcmp(a, "--header-timeout") == 0) {
            if (bo_cli_parse_seconds(v, &cfg.header_timeout_ms) < 0)
                return bo_cli_usage(cli, "--header-timeout wants seconds, not %s", v);
        } else if (strcmp(a, "--body-timeout") == 0) {
            if (bo_cli_parse_seconds(v, &cfg.body_timeout_ms) < 0)
                return bo_cli_usage(cli, "--body-timeout wants seconds, not %s", v);
        } else if (strcmp(a, "--session-idle") == 0) {
            if (bo_cli_parse_seconds(v, &cfg.sessions.idle_ms) < 0 || cfg.sessions.idle_ms == 0)
                return bo_cli_usage(cli, "--session-idle wants seconds, not %s", v);
        } else if (strcmp(a, "--session-max") == 0) {
            if (bo_cli_parse_seconds(v, &cfg.sessions.max_ms) < 0 || cfg.sessions.max_ms == 0)
                return bo_cli_usage(cli, "--session-max wants seconds, not %s", v);
        } else if (strcmp(a, "--idle-timeout") == 0) {
            if (bo_cli_parse_seconds(v, &cfg.idle_timeout_ms) < 0)
                return bo_cli_usage(cli, "--idle-timeout wants seconds, not %s", v);
        } else if (strcmp(a, "--metrics-from") == 0) {
            if (cfg.nmetrics_from == BO_COUNT(cfg.metrics_from))
                return bo_cli_usage(cli, "--metrics-from may be given at most %zu times", BO_COUNT(cfg.metrics_from));
            if (bo_cidr_parse(v, &cfg.metrics_from[cfg.nmetrics_from++]) < 0)
                return bo_cli_usage(cli, "--metrics-from wants an address range such as 10.0.0.0/8, not %s", v);
        } else if (strcmp(a, "--heartbeat") == 0) {
            if (bo_cli_parse_seconds(v, &cfg.heartbeat_ms) < 0 || cfg.heartbeat_ms == 0)
                return bo_cli_usage(cli, "--heartbeat wants seconds, not %s", v);
        } else if (strcmp(a, "--max-streams") == 0) {
            if (bo_cli_parse_uint(v, 1000000, &n) < 0)
                return bo_cli_usage(cli, "--max-streams wants a number, not %s", v);
            cfg.max_streams = (unsigned)n;
        } else if (strcmp(a, "--drain") == 0) {
            if (bo_cli_parse_seconds(v, &cfg.drain_ms) < 0)
                return bo_cli_usage(cli, "--drain wants seconds, not %s", v);
        } else {
            return bo_cli_usage(cli, "unknown option %s", a);
        }
    }
    if (!cfg.tls_cert != !cfg.tls_key)
        return bo_cli_usage(cli, "--tls-cert and --tls-key go together");
    if (cfg.redirect_host && !cfg.tls_cert)
        return bo_cli_usage(cli, "--redirect-http redirects to HTTPS: it needs --tls-cert and --tls-key");
    if (!bo_cli_is_dir(cfg.apps_dir))
        return bo_cli_fail(cli, "the apps folder %s does not exist", cfg.apps_dir);
    char err[300];
    if (bo_db_locate(cfg.data_dir, database, err, sizeof err) < 0)
        return bo_cli_usage(cli, "%s", err);
    char *lib = bo_cli_lib(cli);
    if (!lib)
        return 1;
    cfg.lib_dir = lib;
    int status = bo_server_run(&cfg);
    free(lib);
    return status;
}

