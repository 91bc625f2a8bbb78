module ktr/patterncheck

go 1.23
