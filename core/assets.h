/*
 * assets.h - the platform's front-end assets and the deployment's look.
 *
 * /assets/<version>/... serves GOV.UK Frontend's stylesheet (with a system
 * font stack in place of GDS Transport, whose files are never served), its
 * JavaScript, borough's init module and stylesheet, and images, all built by
 * tools/assets.sh into vendor/public/<version>/. The version changes with
 * every change of those files, so they are cached for a year (immutable).
 *
 * The deployment's look comes from <data>/site.conf, lines of "key = value":
 * name (the council's name in every header), url (where the name links),
 * logo (a file in <data>/site/, shown before the name), colour (the header
 * and brand colour, #rgb or #rrggbb), link_colour, and public_url (the
 * address the site is reached by from outside, for links in emails and
 * text messages; `serve --public-url` overrides it). /assets/site.css is
 * made from the colours, and /assets/site/<file> serves <data>/site/.
 *
 * Both are read once per process, on first use, and are immutable after:
 * workers share them without locks.
 */
#ifndef BO_ASSETS_H
#define BO_ASSETS_H

#include "bo.h"

typedef struct bo_assets {
    char *root;           /* resolved vendor/public/<version>, or NULL if not built */
    char *version;        /* "6.6.0-26ec3accde", or "" */
    char *prefix;         /* "/assets/<version>" */
} bo_assets;

typedef struct bo_site {
    char *name;           /* the council's name ("" if not configured) */
    char *url;            /* where the name links ("/" by default) */
    char *logo;           /* "/assets/site/<file>", or NULL */
    char *colour;         /* "#rrggbb", or NULL */
    char *link_colour;
    char *site_dir;       /* resolved <data>/site, or NULL */
    char *css;            /* the text of /assets/site.css */
    char etag[24];        /* of css */
    char *public_url;     /* where the site is reached from outside, for links in
                             messages ("https://grants.example.gov.uk"), or NULL */
    bool bad_public_url;  /* the error is a malformed public_url */
    char *error;          /* why site.conf was not used, or NULL */
} bo_site;

/* The assets for the platform library at lib_dir (its vendor/ is beside
   lua/); found on the first call, the same after. Never NULL. */
const bo_assets *bo_assets_get(const char *lib_dir);

/* The deployment's look from data_dir/site.conf; read on the first call,
   the same after. Never NULL: a missing file gives the defaults, a broken
   one the defaults and an error (logged once). */
const bo_site *bo_site_get(const char *data_dir);

/* Parses site.conf text into s (fields new; free with bo_site_free).
   Returns 0, or BO_EPARSE with "site.conf:LINE: why" in s->error. */
int bo_site_parse(bo_site *s, const char *text, size_t len);
void bo_site_free(bo_site *s);

/* True if url is an http:// or https:// address with a host, an optional
   port and an optional path, and no query, fragment or user part. */
bool bo_public_url_valid(const char *url);

#endif
