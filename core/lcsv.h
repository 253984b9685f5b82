/*
 * lcsv.h - borough.csv: the CSV reader of csv.c for Lua, so an app can read
 * an uploaded file (and the entity layer can import one) with the same
 * parser the import command uses.
 *
 *   for row, line, err, column in borough.csv.rows(text) do ... end
 *       row is an array of strings; for a record that could not be read,
 *       row is false, err says why and column is the 1-based field.
 *   local r = borough.csv.reader(text); r:next() -> row, line | false, line, err, column | nil
 *   r:next(into, names) -> into, line, count | (the same): field i stored
 *       as into[names[i]] where names[i] is a string; count: the fields read
 *   r:position() -> bytes read, total bytes
 *   borough.csv.line{ "a", "b,c" } -> 'a,"b,c"\r\n'
 *
 * borough.csv.upload(file), a reader over one of the request's own
 * uploads, needs the request: lreq.c adds it.
 *
 * Reading charges the request's budget by the bytes and fields read.
 */
#ifndef BO_LCSV_H
#define BO_LCSV_H

#include <lua.h>
#include <stddef.h>

struct bo_csv;

/* Pushes the borough.csv table. */
int bo_lcsv_open(lua_State *L);

/* Pushes a reader over the file at path, mapped read-only (for commands,
   and borough.csv.upload over an upload's temporary file; apps cannot open
   files). Returns 0, or a BO_E* code with the reason in
   err and nothing pushed. */
int bo_lcsv_push_file(lua_State *L, const char *path, char *err, size_t errlen);

/* The parser of the reader at idx (raises if it is not a reader), for C
   that reads the records itself (the import's fast path, lfields.c). */
struct bo_csv *bo_lcsv_check(lua_State *L, int idx);

/* Sets into[names[i]] to field i of c's current record, for each i whose
   names[i] is a string (into and names: stack indexes of tables), as
   reader:next(into, names) does. */
void bo_lcsv_put_fields(lua_State *L, const struct bo_csv *c, int into, int names);

#endif
