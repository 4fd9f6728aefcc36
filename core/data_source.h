// DataSource: the one entry point from a config's "data" object (csv, criteo, synthetic or hdf5)
// to encoded train / validation / test Datasets. The table is read (or generated) once; each
// split(seed) re-splits it and fits a fresh feature encoder on that split's training rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/communicator.h"
#include "core/config.h"
#include "core/dataset.h"
#include "core/feature_encoder.h"
#include "core/schema.h"
#include "core/table_loader.h"

namespace ca {

struct DataSplits {
    Dataset train;
    Dataset validation;
    Dataset test;
    /// Fitted on train; the serving policy stores it to encode requests the same way.
    FeatureEncoder encoder;
};

class DataSource {
  public:
    /// Parses the "data" object (path_override, when not empty, replaces data.path) and loads
    /// or generates the table. A relative path is taken from the working directory, or else
    /// from the source tree. Throws ConfigError for bad settings, InputError for bad data.
    /// With several ranks in comm, each reads its own slice of a file (CSV byte ranges, HDF5
    /// row blocks) and the slices are joined, so every rank holds the same table.
    static DataSource open(const ConfigNode& data_node, const std::string& path_override = "",
                           Communicator& comm = local_communicator());

    /// The "data" object's schema for any source, hdf5 included, without reading any data:
    /// for checking a config before long work. ConfigError names the key.
    static DataSchema parse_schema(const ConfigNode& data_node,
                                   const std::string& path_override = "");

    /// Seeded split; every Dataset field the data provides is filled (features standardised
    /// with the training statistics, user ids, source lines, propensities, aux, truth for
    /// synthetic data). The same seed gives the same Datasets.
    DataSplits split(uint64_t seed) const;

    /// "hillstrom.csv: 64000 rows, 3 arms".
    std::string description() const;
    /// Which assignment probabilities the data gives: a per-row column or the arm shares.
    std::string propensity_source() const;
    int64_t rows() const { return table_.n; }
    int arms() const { return static_cast<int>(table_.arm_names.size()); }
    const std::vector<std::string>& arm_names() const { return table_.arm_names; }
    const DataSchema& schema() const { return schema_; }
    /// The raw, unencoded table (for synthetic data: the generated features as numeric columns).
    const RawTable& table() const { return table_; }

  private:
    Dataset make_dataset(const std::vector<int64_t>& rows, const FeatureEncoder& encoder) const;
    void log_imputation(const std::vector<int64_t>& train_rows,
                        const FeatureEncoder& encoder) const;

    DataSchema schema_;
    RawTable table_;
    /// Synthetic data and stored files: the rows' truth and any column table_ lacks; x and the
    /// observed columns live in table_ only.
    Dataset synthetic_;
    /// The rows came from a stored HDF5 file ("source": "hdf5").
    bool stored_ = false;
};

}  // namespace ca
