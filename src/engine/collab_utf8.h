/*
 * UTF-8 helpers for the OT engine: strict validation and code point
 * counting and indexing.  Positions in text-unicode ops count Unicode code
 * points, documents are stored as UTF-8 bytes.  Pure C, no nginx headers.
 */

#ifndef _COLLAB_UTF8_H_INCLUDED_
#define _COLLAB_UTF8_H_INCLUDED_


#include <stddef.h>


/*
 * Validates p[0..len) strictly (no overlong forms, no surrogates, nothing
 * above U+10FFFF) and stores the number of code points in *ncp.
 * Returns 0, or -1 when the bytes are not valid UTF-8.
 */
int collab_utf8_count(const char *p, size_t len, size_t *ncp);

/* The number of code points in p[0..len), which must be valid UTF-8. */
size_t collab_utf8_length(const char *p, size_t len);

/*
 * The byte offset of code point n in valid UTF-8 p[0..len); len when n is
 * at or past the end.
 */
size_t collab_utf8_offset(const char *p, size_t len, size_t n);


#endif /* _COLLAB_UTF8_H_INCLUDED_ */
