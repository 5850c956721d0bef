package keys

// Key families added for secondary indexes, sequences and statistics.
//
//	/db/<D>/i/<T>/<I>/<cols...>            a unique index entry (no NULL in cols): value = encoded pk
//	/db/<D>/i/<T>/<I>/<cols...>/<pk...>    a non-unique entry, or a unique one with a NULL column
//	/db/<D>/seq/<S>                        the next unallocated value of sequence id S (8 bytes)
//	/db/<D>/catalog/indexes/<name>         index name -> owning table name
//	/db/<D>/catalog/sequences/<name>       a sequence descriptor
//	/db/<D>/catalog/stats/<T>              statistics of table id T (ANALYZE)
//
// Index entries live outside /db/<D>/t/<T>/ so a table scan never meets
// them; a GC of a dropped (or truncated: new id) table deletes both
// /db/<D>/t/<T>/ and /db/<D>/i/<T>/.

// IndexTablePrefix is the prefix of every index entry of table id table.
func IndexTablePrefix(db, table uint64) []byte {
	return AppendUint(AppendString(DatabasePrefix(db), "i"), table)
}

// IndexPrefix is the prefix of every entry of index id index of table id table.
func IndexPrefix(db, table, index uint64) []byte {
	return AppendUint(IndexTablePrefix(db, table), index)
}

// SequenceValueKey is the key holding the next unallocated value of sequence id seq.
func SequenceValueKey(db, seq uint64) []byte {
	return AppendUint(AppendString(DatabasePrefix(db), "seq"), seq)
}

// CatalogIndexKey maps an index name to the name of its table.
func CatalogIndexKey(db uint64, name string) []byte {
	return AppendString(AppendString(AppendString(DatabasePrefix(db), "catalog"), "indexes"), name)
}

// CatalogSequencesPrefix is the prefix of every sequence descriptor key of db.
func CatalogSequencesPrefix(db uint64) []byte {
	return AppendString(AppendString(DatabasePrefix(db), "catalog"), "sequences")
}

// CatalogSequenceKey is the key of the descriptor of sequence name.
func CatalogSequenceKey(db uint64, name string) []byte {
	return AppendString(CatalogSequencesPrefix(db), name)
}

// TableStatsKey is the key of the statistics ANALYZE collected for table id table.
func TableStatsKey(db, table uint64) []byte {
	return AppendUint(AppendString(AppendString(DatabasePrefix(db), "catalog"), "stats"), table)
}
