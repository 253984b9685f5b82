/*
 * safeurl.h - whether a URL written into an HTML attribute (href, src,
 * action, formaction, ...) is one the platform lets a page carry: a
 * relative URL, or one with the scheme http, https, mailto or tel. Anything
 * else (javascript:, data:, vbscript:, ...) would run script or show
 * content of the attacker's making when followed.
 *
 * The scheme is read as a browser reads it: character references decoded
 * (for a value that is HTML, as a template's attribute is), leading spaces
 * and control characters skipped, tabs and line breaks ignored, case
 * ignored. The value may come in pieces (the parts of a template's
 * attribute), read as if joined. Templates (lua/borough/view.lua) and the
 * GOV.UK components (lua/borough/govuk.lua) both decide through here.
 */
#ifndef BO_SAFEURL_H
#define BO_SAFEURL_H

#include "bo.h"

/* What a page shows in place of a refused URL. */
#define BO_SAFEURL_BLOCKED "about:invalid#blocked"

/* True if the URL made of the n pieces (read as one string) is relative or
   uses an allowed scheme. html: the pieces are HTML attribute text, whose
   character references the browser decodes (&#58; is a colon); otherwise
   they are the URL itself. Conservative: text before the first ':' with no
   '/', '?' or '#' in it counts as a scheme, and a named reference the check
   does not know, before that point, refuses the URL. */
bool bo_safeurl_allowed(const bo_str *pieces, size_t n, bool html);

/* The same for the first len bytes of a value whose rest is not known yet
   (a template's literal text before its first output): 1 if the value is
   allowed whatever follows (it has a '/', '?' or '#', or an allowed
   scheme, before any other colon), 0 if it is refused whatever follows, -1
   if the rest decides (also at a character reference, in html). */
int bo_safeurl_prefix(const char *s, size_t len, bool html);

#endif
