module stackswitch/probes

go 1.19
