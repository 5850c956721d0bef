package logclient

// MetadataLeaderAddrForTest exposes the metadata key the client reads.
const MetadataLeaderAddrForTest = metadataLeaderAddr
