/*
 * qr.h - QR codes (ISO/IEC 18004) drawn by the platform, so a TOTP
 * enrolment page (totp.c's otpauth:// URI) needs no outside service: byte
 * mode, error correction level L, M, Q or H, versions 1 to 40, the mask
 * chosen by the standard's penalty score (or given), format and version
 * information. The symbol comes out as a module matrix and as an SVG image
 * with its quiet zone, dark on light, that says what it is to a screen
 * reader.
 */
#ifndef BO_QR_H
#define BO_QR_H

#include "bo.h"

#include <stdint.h>

typedef enum bo_qr_ecl { BO_QR_LOW, BO_QR_MEDIUM, BO_QR_QUARTILE, BO_QR_HIGH } bo_qr_ecl;

#define BO_QR_QUIET 4      /* modules of light margin around an SVG symbol */

typedef struct bo_qr {
    int version;           /* 1..40 */
    int size;              /* 17 + 4 * version modules a side */
    int mask;              /* 0..7 */
    bo_qr_ecl ecl;
    uint8_t *modules;      /* size * size, row by row: 1 dark, 0 light */
} bo_qr;

/* Encodes n bytes in the smallest version from min_version to max_version
   (1..40) that holds them at level ecl, with the given mask (0..7) or, for
   mask -1, the one of least penalty. Fills *out (release with
   bo_qr_release) and returns 0; BO_ELIMIT if the data does not fit
   max_version; BO_EINVAL for arguments out of range. */
int bo_qr_encode(const void *data, size_t n, bo_qr_ecl ecl, int min_version, int max_version, int mask,
                 bo_qr *out);
void bo_qr_release(bo_qr *q);

/* Whether the module at column x, row y is dark (false outside the symbol). */
bool bo_qr_dark(const bo_qr *q, int x, int y);

/* The symbol as an SVG element: a white square with the quiet zone and one
   black path of crisp-edged modules, px pixels per module, role="img" and
   title (escaped) as its accessible name. Returns a new string; free(). */
char *bo_qr_svg(const bo_qr *q, const char *title, int px);

#endif
