/*
 * config.h - the server's configuration: what `borough serve` was told on
 * its command line (cmd_serve.c fills it), with the defaults of DESIGN.md.
 *
 * One bo_config lives in the server for its whole run and never changes
 * after start; the modules that need a setting hold a pointer to it (a
 * worker's `cfg`, and through it its connections and requests) instead of
 * reaching through the server. It sits in the base layer so that any module
 * may read it; nothing here knows the server itself.
 */
#ifndef BO_CONFIG_H
#define BO_CONFIG_H

#include "bo.h"
#include "netaddr.h"

struct bo_server;

/* How long staff sessions last (serve --session-idle / --session-max). */
typedef struct bo_session_limits {
    uint64_t idle_ms;      /* default 30 minutes */
    uint64_t max_ms;       /* default 12 hours */
} bo_session_limits;

#define BO_SESSION_IDLE_DEFAULT (30 * 60 * 1000ULL)
#define BO_SESSION_MAX_DEFAULT (12 * 3600 * 1000ULL)

typedef struct bo_config {
    const char *apps_dir;
    const char *data_dir;
    const char *lib_dir;
    const char *host;           /* listen address */
    int port;                   /* 0: any free port (logged) */
    int workers;
    unsigned max_conns;
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t idle_timeout_ms;
    uint64_t send_timeout_ms;
    uint64_t drain_ms;
    uint64_t handshake_timeout_ms;  /* a TLS handshake must end within it */
    bo_session_limits sessions;     /* staff sessions' idle and absolute timeouts */
    uint64_t heartbeat_ms;      /* an event stream gets a comment this often (--heartbeat) */
    unsigned max_streams;       /* event streams one worker holds open (--max-streams) */
    const char *tls_cert;       /* with tls_key: serve HTTPS (PEM files) */
    const char *tls_key;
    const char *redirect_host;  /* a plain-HTTP listener redirecting to HTTPS, or NULL */
    int redirect_port;
    const char *public_url;     /* --public-url: the site's address from outside, or NULL
                                   (then site.conf's public_url, else the listen address) */
    bool access_log;
    bool watch;                 /* reload when files under apps_dir change */
    bool control;               /* open the control socket (on by default) */
    bool site;                  /* serve the platform's own app, the front door and
                                   /_admin (on, but for `borough check` and `borough test`) */
    const char *only_app;       /* serve this one app folder, not apps_dir's apps */
    bo_cidr metrics_from[16];   /* who may read /metrics; none given: loopback */
    unsigned nmetrics_from;
    /* Called on the main thread once every worker listens (borough test). */
    void (*on_ready)(struct bo_server *s, void *ud);
    void *ready_ud;
} bo_config;

/* Fills the defaults of DESIGN.md (apps, data, 127.0.0.1:8080, one worker
   per core). */
void bo_config_defaults(bo_config *cfg);

#endif
