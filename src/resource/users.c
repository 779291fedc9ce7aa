/*
 * users.c - GET /users/{id} (the user themself or an admin) and GET /users (admins only,
 * paginated with ?page=&page_size=).
 *
 * Authorisation is decided on the loop from the verified token (its user_id and role
 * claims); the database read runs on the blocking pool (storage: user_store.c). A non-admin
 * asking for another user's id gets 403 whether or not that id exists (no enumeration); an
 * admin gets 404 for an id that does not exist.
 */
#define LOG_MODULE "resource"
#include <stdlib.h>

#include "common/err.h"
#include "resource/resource_internal.h"
#include "runtime/alloc.h"

static const api_paging_t PAGING = {20, 100, 100000};

struct users_job {
    resource_t *res;
    bool list;
    int64_t id;
    uint32_t page, page_size;
};

static int users_work(void *arg, buf_t *out)
{
    struct users_job *j = arg;
    return j->list ? resource__users_page(j->res, j->page, j->page_size, out)
                   : resource__user_json(j->res, j->id, out);
}

static void submit(http_req_t *req, struct users_job *j)
{
    j->res = req->route_data;
    api__submit_json(req, users_work, j, free, 4u << 20);
}

static void on_user_get(http_req_t *req)
{
    const auth_token_ref_t *t = resource__caller(req, NULL);
    if (!t)
        return;
    int64_t id;
    if (!api__param_id(req, "id", &id)) {
        http_respond_error(req, ERR_NOT_FOUND, NULL);
        return;
    }
    if (id != t->user_id && !api__is_admin(t)) {
        http_respond_error(req, ERR_PERMISSION, NULL);
        return;
    }
    struct users_job *j = xcalloc(1, sizeof *j);
    j->id = id;
    submit(req, j);
}

static void on_users_list(http_req_t *req)
{
    if (!resource__caller(req, "admin"))
        return;
    uint32_t page, size;
    if (api__pagination(req, &PAGING, &page, &size) != 0)
        return;
    struct users_job *j = xcalloc(1, sizeof *j);
    j->list = true;
    j->page = page;
    j->page_size = size;
    submit(req, j);
}

static const api_route_t ROUTES[] = {
    {HTTP_M_GET, "/users", on_users_list},
    {HTTP_M_GET, "/users/{id}", on_user_get},
};

/* See resource_internal.h. */
const api_family_t resource__users_family = API_FAMILY(ROUTES, NULL);
