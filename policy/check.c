/*
 * check.c — the meaning of a parsed policy: value ranges, statements
 * that may appear once, services that collide, actions that would break
 * a protocol or change a TCP length, patterns that do not compile, and
 * the key file.  Checks everything and reports every problem; resolves
 * the singleton statements so the compiler need not search for them.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key.h"
#include "lang.h"
#include "ruleset.h"

struct checker {
	const struct src *src;
	struct diag_list *dl;
	int rc;
};

#define ERR(ck, loc, ...) \
	diag_add((ck)->dl, (ck)->src, DIAG_ERROR, (loc), __VA_ARGS__)

static const char *proto_name(uint8_t proto)
{
	return proto == RS_PROTO_TCP ? "tcp" : "udp";
}

static unsigned family_bits(uint8_t family)
{
	return family == 4 ? 32 : 128;
}

/* The source text of @loc, for quoting a token back to the operator. */
static int loc_text_len(const struct loc *l)
{
	return l->span > 64 ? 64 : (int)l->span;
}

static const char *loc_text(const struct checker *ck, const struct loc *l)
{
	return ck->src->text + l->offset;
}

static void dup_error(struct checker *ck, const struct ast_stmt *st,
		      const struct ast_stmt *first, const char *what)
{
	ERR(ck, st->loc, "duplicate \"%s\" statement (first on line %u)", what,
	    first->loc.line);
}

static bool check_len(struct checker *ck, const struct ast_num *n,
		      uint8_t family, const char *what)
{
	unsigned max = family_bits(family);

	if (n->v <= max)
		return true;
	ERR(ck, n->loc, "%s %llu out of range 0..%u for IPv%u", what,
	    (unsigned long long)n->v, max, family);
	return false;
}

static bool host_bits_clear(const struct ast_prefix *p)
{
	unsigned bytes = p->family == 4 ? 4 : 16;

	for (unsigned bit = (unsigned)p->plen; bit < bytes * 8; bit++)
		if (p->addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

static bool check_prefix(struct checker *ck, const struct ast_prefix *p)
{
	unsigned max = family_bits(p->family);

	if (p->plen > max) {
		ERR(ck, p->len_loc, "prefix length %llu out of range 0..%u for IPv%u",
		    (unsigned long long)p->plen, max, p->family);
		return false;
	}
	if (!host_bits_clear(p)) {
		ERR(ck, p->loc, "host bits set in prefix \"%.*s\" beyond /%u",
		    loc_text_len(&p->loc), loc_text(ck, &p->loc),
		    (unsigned)p->plen);
		return false;
	}
	return true;
}

static bool check_port(struct checker *ck, const struct ast_num *n)
{
	if (n->v >= 1 && n->v <= 65535)
		return true;
	ERR(ck, n->loc, "port %llu out of range 1..65535",
	    (unsigned long long)n->v);
	return false;
}

static bool check_listen_range(struct checker *ck, const struct ast_range *r)
{
	bool ok = check_port(ck, &r->lo);

	if (r->is_range)
		ok = check_port(ck, &r->hi) && ok;
	if (ok && r->lo.v > r->hi.v) {
		ERR(ck, r->loc, "reversed port range %llu-%llu",
		    (unsigned long long)r->lo.v, (unsigned long long)r->hi.v);
		ok = false;
	}
	return ok;
}

static bool check_queue(struct checker *ck, const struct ast_range *r)
{
	const struct ast_num *bad = r->lo.v > 65535 ? &r->lo :
				    r->hi.v > 65535 ? &r->hi : NULL;

	if (bad) {
		ERR(ck, bad->loc, "queue %llu out of range 0..65535",
		    (unsigned long long)bad->v);
		return false;
	}
	if (r->lo.v > r->hi.v) {
		ERR(ck, r->loc, "reversed queue range %llu-%llu",
		    (unsigned long long)r->lo.v, (unsigned long long)r->hi.v);
		return false;
	}
	return true;
}

static void check_address(struct checker *ck, const struct ast_stmt *st)
{
	const struct ast_prefix *range = &st->address.range;
	unsigned max = family_bits(st->address.family);

	switch (st->address.mode) {
	case ADDR_KEEP:
		break;
	case ADDR_TRUNCATE:
	case ADDR_PERMUTE:
		if (st->address.has_len)
			check_len(ck, &st->address.len, st->address.family,
				  "prefix length");
		break;
	case ADDR_MAP:
		if (range->family != st->address.family) {
			ERR(ck, range->loc,
			    "map range \"%.*s\" is IPv%u, not IPv%u",
			    loc_text_len(&range->loc), loc_text(ck, &range->loc),
			    range->family, st->address.family);
			break;
		}
		if (!check_prefix(ck, range))
			break;
		if (range->plen + 2 > max)
			ERR(ck, range->len_loc,
			    "map range /%u leaves fewer than 2 host bits (at most /%u)",
			    (unsigned)range->plen, max - 2);
		break;
	}
}

/* Compile @pat as the engine will; report the error at its character. */
static void check_pattern(struct checker *ck, const struct ast_str *pat)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE erroff;
	pcre2_code *re;
	int err;

	re = pcre2_compile((PCRE2_SPTR)pat->s, pat->len, 0, &err, &erroff, NULL);
	if (re) {
		pcre2_code_free(re);
		return;
	}
	if (err == PCRE2_ERROR_NOMEMORY) {
		ck->rc = -ENOMEM;
		return;
	}
	if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0)
		snprintf((char *)msg, sizeof(msg), "error %d", err);

	struct token tok = { .kind = TOK_STRING, .loc = pat->loc };
	struct loc at = pat->loc;
	unsigned col = lang_string_column(ck->src, &tok, erroff);

	at.offset += col - at.col;
	at.col = col;
	at.span = 1;
	ERR(ck, at, "invalid pattern: %s", (const char *)msg);
}

static bool is_tchar(unsigned char c)
{
	/* RFC 9110 token characters: what a header field name may use */
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void check_redact(struct checker *ck, const struct ast_service *svc,
			 const struct ast_stmt *st, bool listens_tcp)
{
	enum det_kind det = st->redact.det;
	enum act_kind act = st->redact.act;
	const char *dn = policy_det_name(det), *an = policy_act_name(act);
	unsigned max_nums = 0;

	switch (det) {
	case DET_LITERAL:
		if (!st->redact.arg.len)
			ERR(ck, st->redact.arg.loc, "empty literal");
		break;
	case DET_PATTERN:
		if (!st->redact.arg.len)
			ERR(ck, st->redact.arg.loc, "empty pattern");
		else
			check_pattern(ck, &st->redact.arg);
		break;
	case DET_HEADER: {
		const struct ast_str *h = &st->redact.arg;
		bool ok = h->len > 0;

		for (size_t i = 0; ok && i < h->len; i++)
			ok = is_tchar((unsigned char)h->s[i]);
		if (!ok)
			ERR(ck, h->loc,
			    "invalid header name (letters, digits and -, no colon)");
		break;
	}
	default:
		break;
	}

	if (st->redact.relaxed && det != DET_EMAIL)
		ERR(ck, st->redact.relaxed_loc,
		    "option \"relaxed\" does not fit detector \"%s\" (only email)",
		    dn);
	if (det == DET_EMAIL) {
		/* the scan runs the email detector once, as its first rule says */
		for (const struct ast_stmt *e = svc->stmts; e < st; e++)
			if (e->kind == ST_REDACT && e->redact.det == DET_EMAIL) {
				if (st->redact.relaxed && !e->redact.relaxed)
					diag_add(ck->dl, ck->src, DIAG_WARNING,
						 st->redact.relaxed_loc,
						 "\"relaxed\" is ignored: the first \"redact email\" (line %u) decides how addresses are found, and it is not relaxed",
						 e->loc.line);
				else if (!st->redact.relaxed && e->redact.relaxed)
					diag_add(ck->dl, ck->src, DIAG_WARNING,
						 st->redact.det_loc,
						 "the first \"redact email\" (line %u) is relaxed and decides how addresses are found: this rule is relaxed too",
						 e->loc.line);
				break;
			}
	}
	if (det == DET_PROXY && act != ACT_TRUNCATE && act != ACT_ADDRESS) {
		ERR(ck, st->redact.act_loc,
		    "proxy-protocol cannot take \"%s\": it would break the PROXY header (use truncate or address)",
		    an);
		return;
	}
	if (act == ACT_TRUNCATE && det != DET_IPV4 && det != DET_IPV6 &&
	    det != DET_PROXY && det != DET_HEADER) {
		ERR(ck, st->redact.act_loc,
		    "action \"truncate\" does not fit detector \"%s\" (only ipv4, ipv6, proxy-protocol, header)",
		    dn);
		return;
	}
	if (act == ACT_ADDRESS && det != DET_PROXY && det != DET_HEADER) {
		ERR(ck, st->redact.act_loc,
		    "action \"address\" does not fit detector \"%s\" (only proxy-protocol, header)",
		    dn);
		return;
	}
	if (act == ACT_ADDRESS && listens_tcp) {
		for (int f = 0; f < 2; f++) {
			const struct ast_stmt *a = svc->addr[f];

			if (a && (a->address.mode == ADDR_MAP ||
				  a->address.mode == ADDR_PERMUTE)) {
				ERR(ck, st->redact.act_loc,
				    "cannot keep TCP lengths: action \"address\" needs address ipv%u keep or truncate in a TCP service, not %s",
				    f ? 6 : 4,
				    a->address.mode == ADDR_MAP ? "map" : "permute");
				return;
			}
		}
	}

	if (act == ACT_TRUNCATE)
		max_nums = det == DET_IPV4 || det == DET_IPV6 ? 1 : 2;
	if (st->redact.n_nums > max_nums) {
		const struct ast_num *extra = &st->redact.nums[max_nums];

		if (max_nums == 0)
			ERR(ck, extra->loc, "action \"%s\" takes no length", an);
		else
			ERR(ck, extra->loc,
			    "\"redact %s truncate\" takes one length", dn);
		return;
	}
	for (unsigned i = 0; i < st->redact.n_nums; i++) {
		uint8_t fam = det == DET_IPV6 || i == 1 ? 6 : 4;

		check_len(ck, &st->redact.nums[i], fam, "truncate length");
	}
}

/* Pass one over a service: the statements each on their own. */
static void check_service_stmts(struct checker *ck, struct ast_service *svc,
				bool *listens, bool *listens_tcp)
{
	for (size_t i = 0; i < svc->n; i++) {
		const struct ast_stmt *st = &svc->stmts[i];

		switch (st->kind) {
		case ST_LISTEN:
			*listens = true;
			if (st->listen.proto == RS_PROTO_TCP)
				*listens_tcp = true;
			for (size_t j = 0; j < st->listen.n; j++)
				check_listen_range(ck, &st->listen.ports[j]);
			break;
		case ST_QUEUE:
			if (svc->queue)
				dup_error(ck, st, svc->queue, "queue");
			else
				svc->queue = st;
			check_queue(ck, &st->queue);
			break;
		case ST_CLIENTS:
			for (size_t j = 0; j < st->clients.n; j++)
				check_prefix(ck, &st->clients.v[j]);
			break;
		case ST_ADDRESS: {
			int f = st->address.family == 6;

			if (svc->addr[f])
				ERR(ck, st->loc,
				    "duplicate \"address ipv%u\" statement (first on line %u)",
				    st->address.family, svc->addr[f]->loc.line);
			else
				svc->addr[f] = st;
			check_address(ck, st);
			break;
		}
		case ST_ALLOW:
			if (!st->allow.len)
				ERR(ck, st->allow.loc, "empty pattern");
			else
				check_pattern(ck, &st->allow);
			break;
		case ST_HOLD:
			if (svc->hold)
				dup_error(ck, st, svc->hold, "hold");
			else
				svc->hold = st;
			if (st->hold.ms > 10000)
				ERR(ck, st->hold.loc, "hold time above 10s");
			break;
		case ST_ON_ERROR:
			if (svc->on_error)
				dup_error(ck, st, svc->on_error, "on-error");
			else
				svc->on_error = st;
			if (st->on_error.accept)
				diag_add(ck->dl, ck->src, DIAG_WARNING,
					 st->on_error.loc,
					 "on-error accept passes packets unredacted when they cannot be processed");
			break;
		default:
			break;
		}
	}
}

static bool valid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return false;
	return true;
}

static void check_overlaps(struct checker *ck, const struct ast_policy *ast)
{
	/* owner[proto][port]: service index + 1 of the first listener */
	uint16_t (*owner)[65536] = calloc(2, sizeof(*owner));

	if (!owner) {
		ck->rc = -ENOMEM;
		return;
	}
	for (size_t si = 0; si < ast->n_svcs && si < UINT16_MAX; si++) {
		const struct ast_service *svc = &ast->svcs[si];

		for (size_t i = 0; i < svc->n; i++) {
			const struct ast_stmt *st = &svc->stmts[i];

			if (st->kind != ST_LISTEN)
				continue;
			for (size_t j = 0; j < st->listen.n; j++) {
				const struct ast_range *r = &st->listen.ports[j];
				uint16_t *own = owner[st->listen.proto];
				unsigned clash = 0, clash_port = 0;

				if (r->lo.v < 1 || r->hi.v > 65535 ||
				    r->lo.v > r->hi.v)
					continue;
				for (unsigned p = (unsigned)r->lo.v; p <= r->hi.v; p++) {
					if (own[p] && own[p] != si + 1) {
						if (!clash) {
							clash = own[p];
							clash_port = p;
						}
						continue;
					}
					own[p] = (uint16_t)(si + 1);
				}
				if (clash)
					ERR(ck, r->loc,
					    "service \"%s\" overlaps service \"%s\" on %s port %u",
					    svc->name, ast->svcs[clash - 1].name,
					    proto_name(st->listen.proto), clash_port);
			}
		}
	}
	free(owner);
}

/*
 * Room for the outbound queues (policy_service_queues_out()): they are
 * the inbound block moved up by its own width, so its highest queue H and
 * lowest L must leave 2H - L + 1 <= 65535.  Services whose queue
 * statement is out of range were reported already and are left out.
 */
static void check_queue_room(struct checker *ck, const struct ast_policy *ast)
{
	const struct ast_stmt *top = NULL;
	uint64_t lo = 65535, hi = 0;

	for (size_t si = 0; si < ast->n_svcs; si++) {
		const struct ast_stmt *q = ast->svcs[si].queue;
		uint64_t qlo = q ? q->queue.lo.v : 0, qhi = q ? q->queue.hi.v : 0;

		if (!ast->svcs[si].name || qhi > 65535 || qlo > qhi)
			continue;
		if (qlo < lo)
			lo = qlo;
		/* without a statement the queue is 0: never the highest */
		if (q && qhi >= hi) {
			hi = qhi;
			top = q;
		}
	}
	if (top && 2 * hi - lo + 1 > 65535) {
		char block[32];

		if (lo == hi)
			snprintf(block, sizeof(block), "%llu",
				 (unsigned long long)lo);
		else
			snprintf(block, sizeof(block), "%llu-%llu",
				 (unsigned long long)lo, (unsigned long long)hi);
		ERR(ck, top->queue.loc,
		    "no room for the outbound queues: they follow the inbound "
		    "queues %s and would end at %llu (at most 65535)", block,
		    (unsigned long long)(2 * hi - lo + 1));
	}
}

static int resolve_key_path(struct ast_policy *ast, const struct src *src)
{
	const char *path = ast->key->key.s;
	const char *slash = src->name ? strrchr(src->name, '/') : NULL;

	if (path[0] == '/' || !slash)
		ast->key_path = strdup(path);
	else if (asprintf(&ast->key_path, "%.*s/%s",
			  (int)(slash - src->name), src->name, path) < 0)
		ast->key_path = NULL;
	return ast->key_path ? 0 : -ENOMEM;
}

static void check_key(struct checker *ck, struct ast_policy *ast)
{
	const struct ast_str *k = &ast->key->key;
	const char *why = NULL;
	int rc;

	if (!k->len || memchr(k->s, '\0', k->len)) {
		ERR(ck, k->loc, "invalid key file path");
		return;
	}
	rc = resolve_key_path(ast, ck->src);
	if (rc) {
		ck->rc = rc;
		return;
	}
	rc = key_file_check(ast->key_path, &why);
	if (!rc)
		return;
	if (!why)
		why = strerror(-rc);
	ERR(ck, k->loc, "key file \"%s\": %s", k->s, why);
}

/**
 * lang_check() - see lang.h
 */
int lang_check(const struct src *src, struct ast_policy *ast,
	       struct diag_list *dl)
{
	struct checker ck = { .src = src, .dl = dl };

	for (size_t i = 0; i < ast->n_top; i++) {
		const struct ast_stmt *st = &ast->top[i];

		if (st->kind == ST_KEY) {
			if (ast->key)
				dup_error(&ck, st, ast->key, "key");
			else
				ast->key = st;
		} else if (st->kind == ST_EPOCH) {
			if (ast->epoch)
				dup_error(&ck, st, ast->epoch, "epoch");
			else
				ast->epoch = st;
		}
	}
	if (ast->key)
		check_key(&ck, ast);

	for (size_t si = 0; si < ast->n_svcs; si++) {
		struct ast_service *svc = &ast->svcs[si];
		bool listens = false, listens_tcp = false;

		if (!svc->name)
			continue;
		if (!valid_name(svc->name))
			ERR(&ck, svc->name_loc,
			    "invalid service name \"%s\" (letters, digits, -, _ and .)",
			    svc->name);
		for (size_t j = 0; j < si; j++) {
			if (ast->svcs[j].name &&
			    !strcmp(ast->svcs[j].name, svc->name)) {
				ERR(&ck, svc->name_loc,
				    "duplicate service name \"%s\" (first on line %u)",
				    svc->name, ast->svcs[j].name_loc.line);
				break;
			}
		}
		if (si == RS_MAX_SERVICES)
			ERR(&ck, svc->name_loc, "too many services (at most %u)",
			    RS_MAX_SERVICES);

		check_service_stmts(&ck, svc, &listens, &listens_tcp);
		for (size_t i = 0; i < svc->n; i++)
			if (svc->stmts[i].kind == ST_REDACT)
				check_redact(&ck, svc, &svc->stmts[i], listens_tcp);
		/* A broken listen line was reported already. */
		if (!listens && !svc->damaged)
			ERR(&ck, svc->name_loc,
			    "service \"%s\" has no \"listen\" statement",
			    svc->name);
		if (ck.rc)
			return ck.rc;
	}
	if (!ast->n_svcs)
		diag_add(dl, src, DIAG_WARNING, (struct loc){ 0 },
			 "no service: the policy covers no traffic");
	check_overlaps(&ck, ast);
	check_queue_room(&ck, ast);
	return ck.rc;
}
