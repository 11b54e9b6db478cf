/*
 * strset.c — chained hash set of strings (see sched/strset.h).
 */
#include "sched/strset.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry_s {
        struct entry_s *next;
        uint64_t hash;
        int32_t tag;
        char s[]; /* NUL-terminated */
} entry_t;

struct sched_strset_s {
        entry_t **buckets;
        size_t nbuckets; /* power of two */
        size_t count;
};

/* FNV-1a, 64-bit. */
static uint64_t hash_str(const char *s) {
        uint64_t h = 0xcbf29ce484222325ULL;
        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 0x100000001b3ULL;
        }
        return h;
}

sched_strset_t *sched_strset_new(void) {
        sched_strset_t *set = calloc(1, sizeof(*set));
        if (!set)
                return NULL;
        set->nbuckets = 64;
        set->buckets = calloc(set->nbuckets, sizeof(*set->buckets));
        if (!set->buckets) {
                free(set);
                return NULL;
        }
        return set;
}

void sched_strset_destroy(sched_strset_t *set) {
        if (!set)
                return;
        for (size_t i = 0; i < set->nbuckets; i++) {
                entry_t *e = set->buckets[i];
                while (e) {
                        entry_t *next = e->next;
                        free(e);
                        e = next;
                }
        }
        free(set->buckets);
        free(set);
}

static void grow(sched_strset_t *set) {
        size_t n = set->nbuckets * 2;
        entry_t **b = calloc(n, sizeof(*b));
        if (!b)
                return; /* keep the longer chains */
        for (size_t i = 0; i < set->nbuckets; i++) {
                entry_t *e = set->buckets[i];
                while (e) {
                        entry_t *next = e->next;
                        e->next = b[e->hash & (n - 1)];
                        b[e->hash & (n - 1)] = e;
                        e = next;
                }
        }
        free(set->buckets);
        set->buckets = b;
        set->nbuckets = n;
}

bool sched_strset_add(sched_strset_t *set, const char *s, int32_t tag) {
        if (sched_strset_has(set, s))
                return false;
        size_t len = strlen(s);
        entry_t *e = malloc(sizeof(*e) + len + 1);
        if (!e)
                return false;
        e->hash = hash_str(s);
        e->tag = tag;
        memcpy(e->s, s, len + 1);
        if (set->count + 1 > set->nbuckets)
                grow(set);
        entry_t **head = &set->buckets[e->hash & (set->nbuckets - 1)];
        e->next = *head;
        *head = e;
        set->count++;
        return true;
}

bool sched_strset_has(const sched_strset_t *set, const char *s) {
        uint64_t h = hash_str(s);
        for (entry_t *e = set->buckets[h & (set->nbuckets - 1)]; e; e = e->next)
                if (e->hash == h && !strcmp(e->s, s))
                        return true;
        return false;
}

bool sched_strset_del(sched_strset_t *set, const char *s) {
        uint64_t h = hash_str(s);
        for (entry_t **pp = &set->buckets[h & (set->nbuckets - 1)]; *pp;
             pp = &(*pp)->next) {
                entry_t *e = *pp;
                if (e->hash == h && !strcmp(e->s, s)) {
                        *pp = e->next;
                        free(e);
                        set->count--;
                        return true;
                }
        }
        return false;
}

void sched_strset_del_tag(sched_strset_t *set, int32_t tag) {
        for (size_t i = 0; i < set->nbuckets; i++) {
                entry_t **pp = &set->buckets[i];
                while (*pp) {
                        entry_t *e = *pp;
                        if (e->tag == tag) {
                                *pp = e->next;
                                free(e);
                                set->count--;
                        } else {
                                pp = &e->next;
                        }
                }
        }
}

size_t sched_strset_count(const sched_strset_t *set) {
        return set->count;
}
