package sqlerr

// SQLSTATEs of the value types (data exceptions, class 22).
const (
	CodeStringDataRightTruncation = "22001"
	CodeInvalidDatetimeFormat     = "22007"
	CodeDatetimeFieldOverflow     = "22008"
	CodeInvalidParameterValueArg  = "22023"
	CodeInvalidEscapeSequence     = "22025"
	CodeInvalidArgumentForLog     = "2201E"
	CodeInvalidArgumentForPower   = "2201F"
	CodeUntranslatableCharacter   = "22P05"
	CodeCaseNotFound              = "20000"
	CodeIndeterminateDatatype     = "42P18"
)
