module weft/scripts/go-offsets

go 1.19
