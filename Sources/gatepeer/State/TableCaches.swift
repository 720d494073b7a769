import GatePeerKernel

/// The records that spare work on table inet gatepeer, kept in this namespace's state
/// directory: the map cache (what the destination maps were loaded with, so a changed
/// policy is loaded as a delta) and the read record (the table's content at an nf_tables
/// generation, so a no-op plan need not dump every element). Both are best effort: none
/// costs a full load or a full read, never a wrong one.
extension StateStore {
    /// The filter map cache of this namespace's table; nil when the directory is refused
    /// (then every filter change is a full load). Used by writers only (Converge).
    var mapCache: MapCache? { refusal == nil ? MapCache(directory: directory) : nil }

    /// What gatepeer last loaded or read of this namespace's table, at which nf_tables
    /// generation (FilterReadCache); nil when the directory is refused (then every plan
    /// reads the table in full). Written only while this store holds the writer lock
    /// exclusively: status and plan use the record but never write it.
    var filterReadCache: FilterReadCache? {
        guard refusal == nil else { return nil }
        let cache = FilterReadCache(directory: directory)
        cache.mayRecord = { [weak self] in self?.holdsWriterLock ?? false }
        return cache
    }
}
