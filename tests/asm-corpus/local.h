// A local header: found next to the including file before any built-in one.
#define LOCALCONST 0x40
