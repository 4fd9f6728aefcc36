// Sums over rows that give the same bits on any number of ranks and threads. The rows are cut
// into a fixed number of parts that does not depend on the ranks; each part is summed on its
// own, and the parts' sums are added along one fixed binary tree. A rank owns a contiguous run
// of parts, adds the subtrees that lie inside its run, and the ranks exchange only those
// subtree sums. Floating-point addition is not associative, so this fixed order is what lets a
// 2-rank run reproduce a 1-rank run exactly rather than within a tolerance.
#pragma once

#include <cstdint>
#include <vector>

#include "core/communicator.h"

namespace ca {

/// Parts the rows of a whole-dataset sum are cut into: up to this many ranks share the work;
/// further ranks get no rows of such sums (still correct, only idle).
constexpr int kRowSumParts = 64;

// Which rows each part holds and which parts this rank sums. parts is a power of two.
class SumPlan {
  public:
    /// rows cut into `parts` near-equal parts, spread over the ranks of comm in rank order.
    SumPlan(int64_t rows, const Communicator& comm, int parts = kRowSumParts);

    int parts() const { return parts_; }
    int first_part() const { return first_part_; }
    int end_part() const { return end_part_; }
    /// Rows [begin, end) of part p (may be empty when rows < parts).
    RowRange part_rows(int part) const;
    /// All rows of this rank's parts.
    RowRange own_rows() const;
    /// The parts [first, end) of `rank` among `ranks`.
    static RowRange parts_of(int rank, int ranks, int parts);

  private:
    int64_t rows_ = 0;
    int parts_ = 1;
    int first_part_ = 0;
    int end_part_ = 0;
};

// Accumulates this rank's part sums (vectors of `count` numbers) in part order, then
// combines every rank's into the total. Memory: O(log parts) vectors.
template <typename T>
class OrderedSum {
  public:
    OrderedSum(const SumPlan& plan, int64_t count);

    /// Adds the sum of the next part this rank owns (own parts in increasing order).
    void add_part(const T* values);
    void add_part(const std::vector<T>& values) { add_part(values.data()); }
    /// The sum over all parts of all ranks: the same bits on every rank, for any rank count
    /// and thread count. Call once every own part was added; every rank must call it.
    std::vector<T> total(Communicator& comm);

  private:
    struct Node {
        int level = 0;  ///< covers 2^level parts
        int first = 0;  ///< first part covered
        std::vector<T> sum;
    };
    void merge_siblings();

    SumPlan plan_;
    int64_t count_ = 0;
    int next_part_ = 0;
    std::vector<Node> stack_;
};

/// One number per part, e.g. a loss: the ordered total of values[p] for the own parts.
double ordered_total(const SumPlan& plan, const std::vector<double>& own_part_values,
                     Communicator& comm);

}  // namespace ca
