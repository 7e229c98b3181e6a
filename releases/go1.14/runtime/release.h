// go1.14: a C thread's extra M is returned (dropm) after every call into Go.
#define GO1_14
