# cmake -DINPUT=file -DOUTPUT=file.c -DSYMBOL=name -P EmbedText.cmake
# Writes `const char NAME[]` (NUL-terminated) and `const unsigned NAME_len` holding INPUT's bytes.
file(READ ${INPUT} hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR byte_len "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE ${OUTPUT} "/* generated from ${INPUT} */\nconst char ${SYMBOL}[] = {\n${bytes}0x00};\nconst unsigned ${SYMBOL}_len = ${byte_len};\n")
