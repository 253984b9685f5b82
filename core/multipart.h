/*
 * multipart.h - streaming multipart/form-data parsing for file uploads.
 *
 * The HTTP parser hands a multipart body to bo_multipart_feed() as it
 * arrives, in pieces of any size; nothing of it is kept in memory beyond a
 * window of the boundary's length, the part headers (8 KiB at most) and the
 * text fields (BO_MULTIPART_MAX_TEXT in all). Each file part streams into a
 * temporary file under the app's files/tmp/ folder, named with 128 random
 * bits. Per field there is a size limit and a set of allowed types; a file
 * over its limit stops being written (what was written is removed) and is
 * marked too_large, and the rest of the body is read and dropped.
 *
 * Types are judged from the content, not the name: PDF (%PDF-), PNG, JPEG,
 * GIF by their signatures; DOCX and XLSX as ZIP archives whose central
 * directory holds word/ or xl/ entries; CSV and plain text as valid UTF-8
 * without control characters (other than tab, CR, LF, FF), CSV when the
 * name ends in .csv. Anything else is of no known type and refused.
 *
 * The request owns the parser: bo_multipart_free() removes every temporary
 * file not kept with bo_multipart_keep(), so an upload whose request fails,
 * is refused, or whose body never completes leaves nothing behind.
 */
#ifndef BO_MULTIPART_H
#define BO_MULTIPART_H

#include "bo.h"

#include <stdint.h>

#define BO_MULTIPART_MAX_PARTS 1000
#define BO_MULTIPART_MAX_TEXT (1024 * 1024)    /* all text fields together */
#define BO_MULTIPART_MAX_HEAD (8 * 1024)       /* one part's header block */

/* File types, as bits of a set. */
enum {
    BO_FILE_PDF = 1 << 0,
    BO_FILE_PNG = 1 << 1,
    BO_FILE_JPEG = 1 << 2,
    BO_FILE_GIF = 1 << 3,
    BO_FILE_DOCX = 1 << 4,
    BO_FILE_XLSX = 1 << 5,
    BO_FILE_CSV = 1 << 6,
    BO_FILE_TXT = 1 << 7,
    BO_FILE_ALL = (1 << 8) - 1,
};

/* A type's short name ("pdf") and media type, by its bit; NULL if none. */
const char *bo_file_type_name(unsigned type);
const char *bo_file_type_media(unsigned type);
/* The bit for a short name ("pdf", "jpg" or "jpeg", ...), or 0. */
unsigned bo_file_type_of(const char *name);

/* What a field may hold. */
/* The most upload rules a route may declare. */
#define BO_UPLOAD_RULES_MAX 32

typedef struct bo_upload_rule {
    char field[64];
    uint64_t max;          /* bytes */
    unsigned types;        /* BO_FILE_* bits */
} bo_upload_rule;

typedef enum bo_upload_error {
    BO_UPLOAD_OK,
    BO_UPLOAD_TOO_LARGE,
    BO_UPLOAD_WRONG_TYPE,
    BO_UPLOAD_EMPTY,
} bo_upload_error;

typedef struct bo_upload {
    char *field;           /* the form field's name */
    char *name;            /* the file name the browser sent (no folders, no control characters) */
    uint64_t size;         /* bytes sent (all of them, for one over its limit) */
    unsigned type;         /* BO_FILE_* of the content, or 0 */
    bo_upload_error error;
    uint64_t max;          /* the limit it was held to */
    unsigned allowed;      /* the types it was allowed */
    char *tmp_path;        /* while not kept; NULL once kept or failed */
    char ref[80];          /* once kept: "<64 hex>.<type>" */
} bo_upload;

typedef struct bo_multipart bo_multipart;

/* Makes a parser for a body whose Content-Type is ct[0..ct_len), with
   temporary files under tmp_dir (made when the first file arrives). rules
   (borrowed, copied) name the fields with their own limits; others get
   default_max and default_types. Returns 0, or BO_EINVAL if ct has no
   usable boundary. */
int bo_multipart_new(bo_multipart **out, const char *ct, size_t ct_len, const char *tmp_dir,
                     const bo_upload_rule *rules, unsigned nrules, uint64_t default_max, unsigned default_types);
/* Removes the temporary files not kept; frees m. NULL is fine. */
void bo_multipart_free(bo_multipart *m);

/* Feeds the next piece of the body. Returns 0, BO_EPARSE (malformed: 400),
   BO_ELIMIT (too many parts, too much text, a header block too large: 413)
   or BO_EIO (a temporary file could not be written: 500). After an error
   the parser takes nothing more. */
int bo_multipart_feed(bo_multipart *m, const char *data, size_t n);
/* True once the closing boundary has been read. */
bool bo_multipart_done(const bo_multipart *m);
/* Why the body was refused, for the log (after a feed error). */
const char *bo_multipart_error(const bo_multipart *m);

/* Text fields, in the order sent. */
unsigned bo_multipart_nfields(const bo_multipart *m);
void bo_multipart_field_at(const bo_multipart *m, unsigned i, const char **name, size_t *nlen,
                           const char **value, size_t *vlen);
/* The first text field called name, or NULL. */
const char *bo_multipart_field(const bo_multipart *m, const char *name, size_t *len);

/* Files, in the order sent (a file input left empty sends none). */
unsigned bo_multipart_nfiles(const bo_multipart *m);
bo_upload *bo_multipart_file(bo_multipart *m, unsigned i);

/* Moves file i (without an error) into files_dir as "<64 random hex>.<type>"
   and sets its ref. Returns 0, BO_EINVAL (it has an error or is already
   kept) or BO_EIO. */
int bo_multipart_keep(bo_multipart *m, unsigned i, const char *files_dir);

#endif
