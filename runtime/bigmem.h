/* Memory for the tables an import fills at random (the ids it has seen,
 * its new borrowers): tens of MB on a million rows. calloc maps such a
 * table lazily, every page to the kernel's one zero page, and a probe
 * reads an empty slot before anything is written there: the write that
 * follows then faults again to copy the page, and that fault flushes the
 * TLB of each CPU the process runs on (an interrupt to the import's other
 * thread; in a VM, an exit to the hypervisor). On a million bench rows
 * those faults were 0.2 s of the reading thread's 2.9 s and 0.25 s of
 * the writing thread's 11 s (perf cpu-clock, do_wp_page). Written once
 * before it is handed out, each page faults once, where no other CPU
 * can have it mapped. */
#ifndef RECOUP_BIGMEM_H
#define RECOUP_BIGMEM_H

#include <stddef.h>

/* calloc(n, size), each of its pages written before it is returned;
 * freed with free(). Asked for huge pages too (bigmem_huge). */
void *bigmem_calloc(size_t n, size_t size);

/* The whole 2 MB pages inside [p, p + n) are asked to be mapped as huge
 * pages (madvise MADV_HUGEPAGE; a hint, where the kernel has them): a
 * table probed at random, one 4 KB page a probe, missed the TLB nearly
 * every time, and in a VM each miss is a walk of two page tables. For
 * memory from malloc, before its pages are first written. */
void bigmem_huge(void *p, size_t n);

#endif
