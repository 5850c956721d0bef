package sqlerr

// SQLSTATE codes of constraints, indexes and sequences.
const (
	CodeCheckViolation             = "23514"
	CodeForeignKeyViolation        = "23503"
	CodeDependentObjectsStillExist = "2BP01"
	CodeObjectNotInPrereqState     = "55000"
	CodeSequenceLimitExceeded      = "2200H"
	CodeGeneratedAlways            = "428C9"
	CodeCardinalityViolation       = "21000"
	CodeInvalidForeignKey          = "42830"
	CodeWrongObjectType            = "42809"
	CodeDuplicateObject            = "42710"
	CodeDuplicateAlias             = "42712"
)
