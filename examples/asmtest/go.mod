module example.com/asmtest

go 1.19
