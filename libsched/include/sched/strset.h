/*
 * sched/strset.h — a set of short strings (chained hash table that grows).
 * Not thread-safe: one owning thread.
 */
#ifndef SCHED_STRSET_H
#define SCHED_STRSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sched_strset_s sched_strset_t;

sched_strset_t *sched_strset_new(void);
void sched_strset_destroy(sched_strset_t *set);
/** Adds a copy of s with a caller tag (e.g. a partition); false if it was
 *  already there or memory ran out. */
bool sched_strset_add(sched_strset_t *set, const char *s, int32_t tag);
bool sched_strset_has(const sched_strset_t *set, const char *s);
/** Removes s; false if it was not there. */
bool sched_strset_del(sched_strset_t *set, const char *s);
/** Removes every entry whose tag equals tag. */
void sched_strset_del_tag(sched_strset_t *set, int32_t tag);
size_t sched_strset_count(const sched_strset_t *set);

#endif /* SCHED_STRSET_H */
