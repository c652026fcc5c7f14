/*
 * collab_status: this worker's state as JSON or Prometheus text.
 *
 * Each subsystem contributes a section: it registers a function from its
 * *_init_process hook with ngx_http_collab_status_add_section(), and that
 * function describes its state through the writer calls below, which
 * produce either format.  In JSON a section is an object named after it;
 * in Prometheus text every value becomes collab_<section>_<path>_<name>
 * with a pid label (counters get the _total suffix).
 */

#ifndef _NGX_HTTP_COLLAB_STATUS_H_INCLUDED_
#define _NGX_HTTP_COLLAB_STATUS_H_INCLUDED_


#include "ngx_http_collab.h"


typedef struct ngx_http_collab_status_s  ngx_http_collab_status_t;

typedef void (*ngx_http_collab_status_section_pt)(
    ngx_http_collab_status_t *st);


/* the collab_status directive handler (location context, no arguments) */
char *ngx_http_collab_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

/* name: [a-z_]+, static storage; call once per worker from init_process */
ngx_int_t ngx_http_collab_status_add_section(const char *name,
    ngx_http_collab_status_section_pt handler);

/* nested object (JSON) / name component (Prometheus) */
void ngx_http_collab_status_open(ngx_http_collab_status_t *st,
    const char *name);
void ngx_http_collab_status_close(ngx_http_collab_status_t *st);

/* a value that only grows */
void ngx_http_collab_status_counter(ngx_http_collab_status_t *st,
    const char *name, uint64_t value);

/* a value that goes up and down */
void ngx_http_collab_status_gauge(ngx_http_collab_status_t *st,
    const char *name, int64_t value);

/* a state name; Prometheus: <name>{...,<name>="<value>"} 1 */
void ngx_http_collab_status_string(ngx_http_collab_status_t *st,
    const char *name, const char *value);


#endif /* _NGX_HTTP_COLLAB_STATUS_H_INCLUDED_ */
