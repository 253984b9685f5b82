/*
 * config.c - the defaults of the server's configuration (see config.h).
 */
#include "config.h"

#include <string.h>
#include <uv.h>

void bo_config_defaults(bo_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->apps_dir = "apps";
    cfg->data_dir = "data";
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->workers = (int)uv_available_parallelism();
    cfg->max_conns = 10000;
    cfg->header_timeout_ms = 10000;
    cfg->body_timeout_ms = 10000;
    cfg->idle_timeout_ms = 15000;
    cfg->send_timeout_ms = 30000;
    cfg->drain_ms = 10000;
    cfg->handshake_timeout_ms = 10000;
    cfg->sessions.idle_ms = BO_SESSION_IDLE_DEFAULT;
    cfg->sessions.max_ms = BO_SESSION_MAX_DEFAULT;
    cfg->heartbeat_ms = 15000;
    cfg->max_streams = 1000;
    cfg->access_log = true;
    cfg->control = true;
    cfg->site = true;
}
