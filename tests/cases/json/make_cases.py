#!/usr/bin/env python3
"""make_cases.py - writes the JSON conformance cases, one file per case.

usage: tests/cases/json/make_cases.py   (rewrites accept/, reject/, impl/)

Each case is one JSON text as bytes (the decoders see it as one line, so no
case holds a raw newline outside whitespace). accept/ must be accepted (an
object, or any other valid JSON text, which a job rejects only as "not an
object"); reject/ must be rejected as invalid JSON, invalid UTF-8 or nesting
too deep; impl/ is where RFC 8259 leaves the choice to implementations, and
impl/VERDICTS records shardflow's choice for each (tests/unit/test_decode.c
checks every file against both decoders). The cases were written for
shardflow, by category: number, string (and escapes), surrogate, utf8,
structure, nesting, whitespace, literal.
"""
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))

accept = {}
reject = {}
impl = {}  # name -> (bytes, "accept" | "reject")

# ---- numbers ----
for name, text in {
    "zero": "0", "minus_zero": "-0", "int": "42", "negative_int": "-17",
    "int64_max": "9223372036854775807", "int64_min": "-9223372036854775808",
    "fraction": "3.25", "negative_fraction": "-0.5", "zero_fraction": "0.0",
    "exponent": "1e5", "exponent_upper": "1E5", "exponent_plus": "2e+3",
    "exponent_minus": "2e-3", "fraction_exponent": "1.5e10",
    "zero_exponent": "0e0", "minus_zero_exponent": "-0E-0",
    "leading_zeros_in_exponent": "1e007", "long_fraction": "0." + "1" * 60,
    "many_digits_real": "3.14159265358979323846264338327950288",
    "smallest_subnormal": "5e-324", "below_smallest_subnormal": "1e-400",
    "dbl_max": "1.7976931348623157e308",
}.items():
    accept["number_" + name] = "[%s]" % text
accept["number_in_object"] = '{"n":-12.5e-1}'
for name, text in {
    "plus_sign": "+1", "leading_zero": "01", "minus_leading_zero": "-01",
    "leading_dot": ".5", "trailing_dot": "1.", "dot_exponent": "1.e3",
    "bare_minus": "-", "minus_space": "- 1", "exponent_no_digits": "1e",
    "exponent_sign_only": "1e+", "exponent_minus_only": "1E-", "double_dot": "1.2.3",
    "double_exponent": "1e2e3", "hex": "0x1F", "octal_like": "017",
    "nan": "NaN", "infinity": "Infinity", "minus_infinity": "-Infinity",
    "underscore": "1_000", "comma_decimal": "1,5 x", "double_minus": "--1",
    "minus_dot": "-.5", "fullwidth_digit": "\uff11", "dot_only": ".",
    "exponent_dot": "1e1.5", "letter_after": "12a", "space_inside": "1 2",
    "plus_exponent_twice": "1e++1", "inf_literal": "inf", "zero_x": "0x",
}.items():
    reject["number_" + name] = "[%s]" % text
for name, text in {
    # RFC 8259 section 6: range and precision are the implementation's
    # business. shardflow checks the grammar everywhere and converts a
    # number only where a column reads it (tests/unit/test_jsonproj.c).
    "int64_max_plus_one": "9223372036854775808",
    "int64_min_minus_one": "-9223372036854775809",
    "thirty_digits": "123456789012345678901234567890",
    "huge_exponent": "1e400", "negative_huge_exponent": "-1e400",
    "enormous_exponent": "1e99999999999999999999",
    "tiny": "1e-99999999999999999999",
    "just_above_dbl_max": "1.7976931348623159e308",
    "thousand_digits": "9" * 1000,
    "precise_beyond_double": "0.1000000000000000055511151231257827021181583404541015625",
}.items():
    impl["number_" + name] = ("[%s]" % text, "accept")
impl["number_huge_in_key_value"] = ('{"id":123456789012345678901234567890,"r":1e400}', "accept")

# ---- strings and escapes ----
for name, text in {
    "empty": '""', "ascii": '"abc"', "space": '" "',
    "escaped_quote": r'"\""', "escaped_backslash": r'"\\"', "escaped_slash": r'"\/"',
    "unescaped_slash": '"/"', "escape_b": r'"\b"', "escape_f": r'"\f"',
    "escape_n": r'"\n"', "escape_r": r'"\r"', "escape_t": r'"\t"',
    "all_simple_escapes": r'"\"\\\/\b\f\n\r\t"',
    "u_escape_ascii": r'"\u0041"', "u_escape_lower_hex": r'"\u00e9"',
    "u_escape_upper_hex": r'"\u00E9"', "u_escape_mixed_hex": r'"\uAbCd"',
    "u_escape_two_byte_max": r'"\u07ff"', "u_escape_three_byte": r'"\u20ac"',
    "u_escape_nul": r'"a\u0000b"', "u_escape_control": r'"\u001f"',
    "u_escape_del": r'"\u007f"', "u_escape_fffe": r'"\ufffe"', "u_escape_ffff": r'"\uffff"',
    "u_escape_bom": r'"\ufeff"', "u_escape_line_separator": r'"\u2028"',
    "escaped_backslash_then_u": r'"\\u0041"', "del_raw": '"\x7f"',
    "long_string": '"' + "x" * 10000 + '"',
}.items():
    accept["string_" + name] = "[%s]" % text
accept["string_nul_escape_in_key"] = r'{"foo\u0000bar":42}'
accept["string_key_only_nul_escape"] = r'{"\u0000":1}'
accept["string_empty_key"] = '{"":0}'
accept["string_escaped_key"] = r'{"\u0061":1}'
for name, text in {
    "unterminated": '"abc', "single_quotes": "'abc'", "raw_tab": '"a\tb"',
    "raw_newline_escaped_wrong": '"a\\\x0ab"', "raw_nul": '"a\x00b"', "raw_control_01": '"\x01"',
    "raw_control_1f": '"\x1f"', "raw_cr": '"a\rb"', "bad_escape_x": r'"\x41"',
    "bad_escape_a": r'"\a"', "bad_escape_0": r'"\0"', "bad_escape_apostrophe": '"\\\'"',
    "escape_at_end": '"\\', "escaped_closing_quote_only": r'"\"', "u_escape_short": r'"\u12"',
    "u_escape_bad_hex": r'"\u12G4"', "u_escape_upper_u": r'"\U0041"',
    "u_escape_plus": r'"\u+041"', "u_escape_cut": r'"\u00', "unquoted_key": "{a:1}",
    "single_quoted_key": "{'a':1}", "backslash_space": r'"\ "', "escaped_newline": '"\\\n"',
    "number_key": "{1:1}", "unterminated_key": '{"a',
}.items():
    reject["string_" + name] = "[%s]" % text if not text.startswith("{") else text

# ---- surrogates ----
accept["surrogate_pair"] = r'["\ud83d\ude00"]'
accept["surrogate_pair_upper"] = r'["\uD83D\uDE00"]'
accept["surrogate_pair_max"] = r'["\udbff\udfff"]'
accept["surrogate_pair_min"] = r'["\ud800\udc00"]'
accept["surrogate_pair_in_key"] = r'{"\ud834\udd1e":1}'
accept["surrogate_escaped_backslash_not_escape"] = r'["\\ud800"]'
for name, text in {
    # A lone surrogate is no Unicode scalar value: it cannot become UTF-8.
    "lone_high": r'"\ud800"', "lone_low": r'"\udc00"', "lone_high_at_end": r'"abc\udbff"',
    "high_then_ascii_escape": r'"\ud800\u0041"', "high_then_high": r'"\ud800\ud800"',
    "low_then_high": r'"\udc00\ud800"', "high_then_text": r'"\ud800x"',
    "high_then_escaped_backslash": r'"\ud800\\u0041"', "high_then_cut_escape": r'"\ud800\u',
    "lone_low_in_key": r'{"\udfff":1}',
}.items():
    impl["surrogate_" + name] = (text if text.startswith("{") else "[%s]" % text, "reject")

# ---- UTF-8 ----
for name, raw in {
    "two_byte": b"\xc3\xa9", "three_byte": b"\xe2\x82\xac", "four_byte": b"\xf0\x9f\x98\x80",
    "max_code_point": b"\xf4\x8f\xbf\xbf", "min_two_byte": b"\xc2\x80",
    "min_three_byte": b"\xe0\xa0\x80", "min_four_byte": b"\xf0\x90\x80\x80",
    "last_before_surrogates": b"\xed\x9f\xbf", "first_after_surrogates": b"\xee\x80\x80",
    "noncharacter_fffe": b"\xef\xbf\xbe", "bom_inside_string": b"\xef\xbb\xbf",
    "mixed": b"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
}.items():
    accept["utf8_" + name] = b'["' + raw + b'"]'
accept["utf8_in_key"] = b'{"cl\xc3\xa9":1}'
for name, raw in {
    "overlong_nul": b"\xc0\x80", "overlong_slash": b"\xc0\xaf", "overlong_c1": b"\xc1\xbf",
    "overlong_three_byte": b"\xe0\x80\xaf", "overlong_four_byte": b"\xf0\x80\x80\xaf",
    "encoded_high_surrogate": b"\xed\xa0\x80", "encoded_low_surrogate": b"\xed\xbf\xbf",
    "above_max": b"\xf4\x90\x80\x80", "lead_f5": b"\xf5\x80\x80\x80", "lead_f8": b"\xf8\x88\x80\x80\x80",
    "lead_fc": b"\xfc\x84\x80\x80\x80\x80", "byte_fe": b"\xfe", "byte_ff": b"\xff",
    "stray_continuation": b"\x80", "two_continuations": b"\x80\xbf",
    "truncated_two": b"\xc3", "truncated_three": b"\xe2\x82", "truncated_four": b"\xf0\x9f\x98",
    "bad_continuation": b"\xc3\x28", "latin1": b"caf\xe9",
}.items():
    reject["utf8_" + name] = b'["' + raw + b'"]'
reject["utf8_invalid_in_key"] = b'{"\xff":1}'
reject["utf8_invalid_outside_string"] = b"[1,\xff]"
reject["utf8_truncated_at_end"] = b'["a"]\xe2\x82'
reject["utf8_valid_char_outside_string"] = b"[\xc3\xa9]"
reject["utf8_nbsp_as_space"] = b"[1,\xc2\xa02]"
impl["utf8_bom_before_value"] = (b"\xef\xbb\xbf{}", "reject")  # the reader skips a BOM at offset 0 of a file

# ---- structure ----
for name, text in {
    "empty_object": "{}", "empty_array": "[]", "object": '{"a":1,"b":"x","c":null}',
    "nested_object": '{"a":{"b":{"c":[]}}}', "array_of_everything": '[1,"a",true,false,null,{},[]]',
    "duplicate_keys": '{"a":1,"a":2}', "duplicate_object_keys": '{"a":{"x":1},"a":{"y":2}}',
    "top_level_string": '"abc"', "top_level_number": "12", "top_level_true": "true",
    "top_level_false": "false", "top_level_null": "null", "nested_arrays": "[[[]],[[],[]]]",
    "key_with_spaces": '{" a b ":1}', "object_in_array": '[{"a":1},{"b":2}]',
    "many_members": "{" + ",".join('"k%d":%d' % (i, i) for i in range(500)) + "}",
}.items():
    accept["structure_" + name] = text
for name, text in {
    "empty": "", "only_space": " ", "trailing_comma_array": "[1,]",
    "trailing_comma_object": '{"a":1,}', "leading_comma": "[,1]", "double_comma": "[1,,2]",
    "missing_comma": "[1 2]", "missing_colon": '{"a" 1}', "double_colon": '{"a"::1}',
    "missing_value": '{"a":}', "comma_instead_of_colon": '{"a",1}',
    "colon_in_array": "[1:2]", "unclosed_array": "[1", "unclosed_object": '{"a":1',
    "unopened_array": "1]", "mismatched_close": "[1}", "mismatched_close_object": '{"a":1]',
    "extra_close": "{}}", "two_values": "{} {}", "two_values_comma": "{},{}",
    "trailing_garbage": "{}x", "trailing_nul": "{}\x00", "nul_after_number": "[1\x00]",
    "nul_after_literal": '{"v":true\x00}', "nul_after_number_top": "12\x00",
    "nul_before_value": "\x00{}", "nul_as_value": "[\x00]", "comment_line": "[1]//c",
    "comment_block": "[1/* c */]", "object_key_array": "{[]:1}", "object_key_null": "{null:1}",
    "key_without_value_end": '{"a"}', "array_with_colon_key": '["a":1]',
    "close_only": "]", "open_only": "{", "semicolon": "[1;2]", "equals": '{"a"=1}',
    "python_none": "[None]", "literal_case": "[True]", "literal_truncated": "[tru]",
    "literal_extra": "[truex]", "literal_null_case": "[NULL]", "undefined": "[undefined]",
}.items():
    reject["structure_" + name] = text

# ---- whitespace ----
for name, text in {
    "all_four_kinds": " \t\r\n{ \"a\" :\t[ 1 ,\r\n2 ] }\n\r\t ", "inside_empty": "{ }",
    "inside_empty_array": "[ ]", "around_colon": '{"a" : 1}', "crlf_inside": "[1,\r\n2]",
}.items():
    accept["whitespace_" + name] = text
for name, text in {
    "vertical_tab": "[1,\x0b2]", "form_feed": "\x0c[1]", "nbsp": "[1,\xa02]",
    "ideographic_space": "[1,\u30002]", "zero_width_space": "[\u200b1]",
    "line_separator": "[1\u2028]",
}.items():
    reject["whitespace_" + name] = text

# ---- nesting (jansson's limit: 2048 levels) ----
accept["nesting_arrays_2048"] = "[" * 2048 + "]" * 2048
accept["nesting_objects_2048"] = '{"a":' * 2047 + "{}" + "}" * 2047
accept["nesting_mixed_100"] = '[{"a":' * 50 + "1" + "}]" * 50
reject["nesting_arrays_2049"] = "[" * 2049 + "]" * 2049
reject["nesting_objects_2049"] = '{"a":' * 2048 + "{}" + "}" * 2048
reject["nesting_unclosed_deep"] = "[" * 100000
impl["nesting_limit_is_2048"] = ("[" * 2049 + "]" * 2049, "reject")


def write(dirname, name, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    with open(os.path.join(HERE, dirname, name + ".json"), "wb") as f:
        f.write(data)


def main():
    for d in ("accept", "reject", "impl"):
        shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
        os.makedirs(os.path.join(HERE, d))
    for n, t in accept.items():
        write("accept", n, t)
    for n, t in reject.items():
        write("reject", n, t)
    lines = ["# case verdict: shardflow's choice where RFC 8259 leaves one (see make_cases.py)"]
    for n, (t, v) in sorted(impl.items()):
        write("impl", n, t)
        lines.append("%s %s" % (n, v))
    with open(os.path.join(HERE, "impl", "VERDICTS"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("accept %d, reject %d, impl %d" % (len(accept), len(reject), len(impl)))


if __name__ == "__main__":
    main()
