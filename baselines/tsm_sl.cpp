// TSM-SL: predictions of the shared network, allocation by the per-user Lagrangian.
#include "baselines/tsm_sl.h"

#include "core/errors.h"

namespace ca {

void TsmSlMethod::prepare(const Dataset& rows, Backend& backend) {
    CA_ASSERT_MSG(network_ != nullptr, "prepare() before fit()");
    allocator_.prepare(*network_, rows, backend, *comm_);
}

}  // namespace ca
