// go1.24 (since go1.21): a C thread keeps its extra M bound after its first call into Go
// (needAndBindM), and Go code keeps g in R14 (the register ABI, since go1.17).
#define GO1_24
