// Fixed-order sums: part plans, the per-rank subtree stack and the exchange of subtree sums.
#include "core/ordered_sum.h"

#include <algorithm>
#include <map>
#include <utility>

#include "core/errors.h"

namespace ca {

namespace {

bool is_power_of_two(int value) { return value > 0 && (value & (value - 1)) == 0; }

int log2_exact(int value) {
    int level = 0;
    while ((1 << level) < value) ++level;
    return level;
}

// The maximal aligned blocks of 2^level parts that tile [begin, end), left to right: the
// subtrees of the fixed tree a rank owning those parts can sum on its own.
std::vector<std::pair<int, int>> dyadic_blocks(int begin, int end) {
    std::vector<std::pair<int, int>> blocks;  // (level, first)
    while (begin < end) {
        int level = 0;
        while (begin % (2 << level) == 0 && begin + (2 << level) <= end) ++level;
        blocks.emplace_back(level, begin);
        begin += 1 << level;
    }
    return blocks;
}

}  // namespace

SumPlan::SumPlan(int64_t rows, const Communicator& comm, int parts) : rows_(rows), parts_(parts) {
    CA_ASSERT_MSG(is_power_of_two(parts), "parts must be a power of two, got " << parts);
    CA_ASSERT(rows >= 0);
    RowRange own = parts_of(comm.rank(), comm.size(), parts);
    first_part_ = int(own.begin);
    end_part_ = int(own.end);
}

RowRange SumPlan::parts_of(int rank, int ranks, int parts) {
    return block_of(parts, rank, ranks);
}

RowRange SumPlan::part_rows(int part) const {
    return {rows_ * part / parts_, rows_ * (part + 1) / parts_};
}

RowRange SumPlan::own_rows() const {
    return {rows_ * first_part_ / parts_, rows_ * end_part_ / parts_};
}

template <typename T>
OrderedSum<T>::OrderedSum(const SumPlan& plan, int64_t count)
    : plan_(plan), count_(count), next_part_(plan.first_part()) {}

template <typename T>
void OrderedSum<T>::add_part(const T* values) {
    CA_ASSERT_MSG(next_part_ < plan_.end_part(), "more parts added than this rank owns");
    stack_.push_back({0, next_part_++, std::vector<T>(values, values + count_)});
    merge_siblings();
}

// Two halves of one subtree on top of the stack become the subtree: left + right, the order
// the combination in total() uses for subtrees that span ranks.
template <typename T>
void OrderedSum<T>::merge_siblings() {
    while (stack_.size() >= 2) {
        Node& right = stack_.back();
        Node& left = stack_[stack_.size() - 2];
        if (left.level != right.level || left.first % (2 << left.level) != 0) return;
        for (int64_t i = 0; i < count_; ++i) left.sum[size_t(i)] += right.sum[size_t(i)];
        left.level += 1;
        stack_.pop_back();
    }
}

template <typename T>
std::vector<T> OrderedSum<T>::total(Communicator& comm) {
    CA_ASSERT_MSG(next_part_ == plan_.end_part(), "total() before every own part was added");
    const int parts = plan_.parts();
    // Every rank's subtrees, in rank order: their place in the exchanged buffer.
    std::map<std::pair<int, int>, size_t> slot;
    size_t slots = 0;
    for (int r = 0; r < comm.size(); ++r) {
        RowRange own = SumPlan::parts_of(r, comm.size(), parts);
        for (auto block : dyadic_blocks(int(own.begin), int(own.end))) slot[block] = slots++;
    }
    const size_t count = size_t(count_);
    std::vector<T> exchanged(slots * count, T(0));
    for (const Node& node : stack_) {
        auto found = slot.find({node.level, node.first});
        CA_ASSERT_MSG(found != slot.end(), "subtree " << node.level << "/" << node.first);
        std::copy(node.sum.begin(), node.sum.end(), exchanged.begin() + found->second * count);
    }
    // Each slot is non-zero on one rank only, and x + 0 is exact.
    if (comm.size() > 1) allreduce_sum(comm, exchanged);

    // Sum of the subtree (level, first): stored, or left + right.
    std::vector<T> out(count);
    auto subtree = [&](auto&& self, int level, int first, T* sum) -> void {
        auto found = slot.find({level, first});
        if (found != slot.end()) {
            const T* stored = exchanged.data() + found->second * count;
            std::copy(stored, stored + count, sum);
            return;
        }
        CA_ASSERT(level > 0);
        std::vector<T> right(count);
        self(self, level - 1, first, sum);
        self(self, level - 1, first + (1 << (level - 1)), right.data());
        for (size_t i = 0; i < count; ++i) sum[i] += right[i];
    };
    subtree(subtree, log2_exact(parts), 0, out.data());
    // -0 and +0 may differ between rank counts (x + 0 turns -0 into +0): report +0.
    for (T& value : out)
        if (value == T(0)) value = T(0);
    return out;
}

template class OrderedSum<double>;
template class OrderedSum<float>;

double ordered_total(const SumPlan& plan, const std::vector<double>& own_part_values,
                     Communicator& comm) {
    CA_ASSERT(int64_t(own_part_values.size()) == plan.end_part() - plan.first_part());
    OrderedSum<double> sum(plan, 1);
    for (double value : own_part_values) sum.add_part(&value);
    return sum.total(comm)[0];
}

}  // namespace ca
