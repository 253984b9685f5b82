/*
 * lfields.h - borough._fields: the lexical work of reading typed values for
 * lua/borough/fields.lua, done in one pass over the bytes in C. Pattern
 * matching in the sandbox is metered and costs about a microsecond a call;
 * an import checks a dozen fields a row, a million rows at a time.
 *
 * The functions only read and normalise text; what counts as valid, and
 * the messages, stay in fields.lua.
 *
 *   text(s, multiline) -> s trimmed | nil, "control" | "lines"
 *       trims whitespace at both ends; fails on bytes that are not UTF-8,
 *       on control characters, and (unless multiline) on line breaks;
 *       multiline text has CRLF and CR turned into LF
 *   digits(s [, extra]) -> the digits | nil
 *       s without spaces, '-', '.', '(' and ')' (and the bytes in extra),
 *       nil unless only ASCII digits remain (and at least one)
 *   date(s) -> "YYYY-MM-DD" | nil
 *       "2024-04-01", "1/4/2024", "1-4-2024", "1.4.2024" or "1 4 2024",
 *       and only a real date (years 1000 to 9999)
 *   postcode(s) -> "SW1A 1AA" | nil
 *       a UK postcode in any case and spacing, in its standard form
 *   email(s) -> true | false
 *       name@domain.tld: no spaces, one @, a dot in the domain, no "..",
 *       the domain of letters, digits, '-' and '.'
 *   record(n) -> a new table sized for n fields (it never rehashes while
 *       an entity's checked values fill it)
 *   read_fields(fields, values, clean, types, today) -> unread, recheck
 *       Entity:validate's common case in one call: a new record's values
 *       given as text, for fields of the types text, long_text, email,
 *       postcode, nhs_number, date, choice, boolean, phone, integer,
 *       number and money, read exactly as their parse in fields.lua reads
 *       them (and checked for length and a date's or a number's range)
 *       into clean: numbers as Lua holds them (an integer when tonumber
 *       gives one or a whole float in range, else a float), money in
 *       whole pence. It never makes a message: bit i-1 of unread marks
 *       field i as left to Lua (other types and values, every value that
 *       is wrong, and any the C reader is not sure of, such as a number
 *       of 64 characters or more), of recheck a field read here that Lua must
 *       still check (pattern, validators, unique). What it knows of each
 *       field is read once per fields list.
 *   insert_rows(fields, values, names, types, today, reader, sql, ids, max)
 *       the import's common case: reads records of a CSV reader and, for
 *       each whose values read_fields would read whole and find checked,
 *       binds them straight to the entity's insert (no Lua per record);
 *       it stops at the first other record and hands it to Lua.
 *
 * The C readers and fields.lua's parse must agree: tests/lua/fields
 * (run by tests/e2e/test_fields.py) compares them on thousands of random
 * and adversarial values of every field type.
 *
 * Each call charges the budget for the bytes it reads.
 */
#ifndef BO_LFIELDS_H
#define BO_LFIELDS_H

#include <lua.h>

/* Pushes the borough._fields table. */
int bo_lfields_open(lua_State *L);

#endif
