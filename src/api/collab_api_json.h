/*
 * JSON string escaping for text read out chunk by chunk: the escaped
 * length first (for Content-Length and one allocation), then the copy.
 * The output is what JavaScript's JSON.stringify() writes for valid UTF-8:
 * '"', '\\' and the control characters escaped (\b \f \n \r \t, the rest
 * as \u00xx in lower case), everything else verbatim.
 */

#ifndef _COLLAB_API_JSON_H_INCLUDED_
#define _COLLAB_API_JSON_H_INCLUDED_


#include <stddef.h>


/* bytes the escaped form of s[0..len) takes, without the quotes */
size_t collab_api_json_escaped_len(const char *s, size_t len);

/* writes the escaped form of s[0..len) at dst; returns its end */
char *collab_api_json_escape(char *dst, const char *s, size_t len);


#endif /* _COLLAB_API_JSON_H_INCLUDED_ */
