/* budget.c - a rank's memory budget (see budget.h). */
#include "core/budget.h"


static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

static uint64_t fixed_sum(const sf_budget_fixed *f)
{
    uint64_t s = add_sat(f->base, f->read_buffer);
    s = add_sat(s, f->shuffle_round);
    return add_sat(s, f->spill_buffers);
}

uint64_t sf_budget_minimum(const sf_budget_fixed *f)
{
    return add_sat(fixed_sum(f), SF_BUDGET_MIN_STATE);
}

/* A size in whole MiB rounded up, for messages people act on. */
static unsigned long long mib_up(uint64_t n) { return (unsigned long long)((n + (1u << 20) - 1) >> 20); }

int sf_budget_init(sf_budget *b, uint64_t limit, const sf_budget_fixed *f, sf_error *err)
{
    b->limit = limit;
    b->fixed = fixed_sum(f);
    b->state = UINT64_MAX;
    if (limit == 0)
        return 0;
    uint64_t min = sf_budget_minimum(f);
    if (limit < min)
        return sf_error_set(err, SF_E_LIMIT,
                            "--memory-limit %lluM is too small: this run needs at least %lluM "
                            "per rank (%lluM resident at start, %lluM read buffer, %lluM shuffle "
                            "round, %lluM spill buffers, %lluM for tables)",
                            (unsigned long long)(limit >> 20), mib_up(min), mib_up(f->base),
                            mib_up(f->read_buffer), mib_up(f->shuffle_round),
                            mib_up(f->spill_buffers), mib_up(SF_BUDGET_MIN_STATE));
    b->state = limit - b->fixed;
    return 0;
}

uint64_t sf_budget_node_default(uint64_t mem_total, int ranks_on_node)
{
    uint64_t share = mem_total / 4 * 3;
    return share / (uint64_t)(ranks_on_node > 0 ? ranks_on_node : 1);
}

size_t sf_budget_plan_passes(const uint64_t *part_bytes, size_t nparts, uint64_t cap,
                             uint32_t *pass_first)
{
    size_t passes = 0;
    size_t p = 0;
    while (p < nparts) {
        pass_first[passes++] = (uint32_t)p;
        uint64_t sum = part_bytes[p++];
        while (p < nparts && sum + part_bytes[p] <= cap && sum + part_bytes[p] >= sum)
            sum += part_bytes[p++];
    }
    pass_first[passes] = (uint32_t)nparts;
    return passes;
}

uint32_t sf_budget_spill_partitions(uint64_t state_estimate, uint64_t state)
{
    uint32_t n = 8;
    uint64_t quarter = state / 4 ? state / 4 : 1;
    while (n < 256 && state_estimate / n > quarter)
        n *= 2;
    return n;
}
