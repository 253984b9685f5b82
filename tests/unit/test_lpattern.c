/*
 * test_lpattern.c - the metered string.find, match, gmatch and gsub of
 * lpattern.c against Lua 5.4's own. A plain state keeps the originals as
 * orig_find, orig_match, orig_gmatch and orig_gsub, gets ours installed in
 * the string table, and runs tables of cases (Lua scripts below) through
 * both, comparing results, their types, error messages and the calls made
 * to replacement functions; a fixed-seed fuzz round adds random patterns.
 * A few specific checks follow. The budget itself (bo_sandbox_charge ending
 * a runaway match) is a sandbox matter and is tested end to end.
 */
#include "lpattern.h"

#include "bo.h"
#include "unit.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* Defines F(), M(), G(), S() and ALL(): each runs one case both ways. */
static const char prelude[] =
    "-- Runs each case through Lua's own function (orig_*) and through ours\n"
    "-- (string.*) and records any difference in results, result types, error\n"
    "-- messages or calls made to a replacement function.\n"
    "local pack, unpack = table.pack, table.unpack\n"
    "ncases, failures = 0, {}\n"
    "\n"
    "local function ser(v)\n"
    "  local t = type(v)\n"
    "  if t == 'string' then return string.format('%q', v) end\n"
    "  if t == 'number' then return math.type(v) .. ':' .. tostring(v) end\n"
    "  if t == 'boolean' then return tostring(v) end\n"
    "  return t\n"
    "end\n"
    "\n"
    "local function serpack(r)\n"
    "  local out = {}\n"
    "  for i = 1, r.n do out[i] = ser(r[i]) end\n"
    "  return '(' .. table.concat(out, ', ') .. ')'\n"
    "end\n"
    "\n"
    "-- f is called through an upvalue, so that a \"bad argument\" message names\n"
    "-- it 'f' for both implementations.\n"
    "local function run(f, ...)\n"
    "  local r = pack(pcall(function (...) return pack(f(...)) end, ...))\n"
    "  if r[1] then return 'ok ' .. serpack(r[2]) end\n"
    "  return 'error ' .. ser(r[2])\n"
    "end\n"
    "\n"
    "local function check(label, want, got)\n"
    "  ncases = ncases + 1\n"
    "  if want ~= got then\n"
    "    failures[#failures + 1] = label .. '\\n    lua:  ' .. want .. '\\n    ours: ' .. got\n"
    "  end\n"
    "end\n"
    "\n"
    "function F(...)\n"
    "  check('find' .. serpack(pack(...)), run(orig_find, ...), run(string.find, ...))\n"
    "end\n"
    "\n"
    "function M(...)\n"
    "  check('match' .. serpack(pack(...)), run(orig_match, ...), run(string.match, ...))\n"
    "end\n"
    "\n"
    "-- gmatch: every value of every iteration, then one more call after the end.\n"
    "local function iterate(gmatch, ...)\n"
    "  return run(function (...)\n"
    "    local it = gmatch(...)\n"
    "    local out = {}\n"
    "    for _ = 1, 300 do\n"
    "      local r = pack(it())\n"
    "      out[#out + 1] = serpack(r)\n"
    "      if r.n == 0 or r[1] == nil then\n"
    "        out[#out + 1] = serpack(pack(it()))\n"
    "        break\n"
    "      end\n"
    "    end\n"
    "    return table.concat(out, ' ')\n"
    "  end, ...)\n"
    "end\n"
    "\n"
    "function G(...)\n"
    "  check('gmatch' .. serpack(pack(...)), iterate(orig_gmatch, ...), iterate(string.gmatch, ...))\n"
    "end\n"
    "\n"
    "-- gsub: a function replacement is wrapped to log the values it is given.\n"
    "local function substitute(gsub, args)\n"
    "  local a, log = pack(unpack(args, 1, args.n)), {}\n"
    "  local fn = a[3]\n"
    "  if type(fn) == 'function' then\n"
    "    a[3] = function (...) log[#log + 1] = serpack(pack(...)); return fn(...) end\n"
    "  end\n"
    "  return run(gsub, unpack(a, 1, a.n)) .. ' calls: ' .. table.concat(log, ' ')\n"
    "end\n"
    "\n"
    "function S(...)\n"
    "  local args = pack(...)\n"
    "  check('gsub' .. serpack(args), substitute(orig_gsub, args), substitute(string.gsub, args))\n"
    "end\n"
    "\n"
    "-- All four at once, for a subject and a pattern.\n"
    "function ALL(s, p)\n"
    "  F(s, p); M(s, p); G(s, p); S(s, p, '<%0>')\n"
    "end\n"
    ;

static const char find_cases[] =
    "-- string.find: plain search, init positions, anchors and return values.\n"
    "local s = 'hello world'\n"
    "F(s, 'o'); F(s, 'o', 5); F(s, 'o', 6); F(s, 'o', 8); F(s, 'o', 9)\n"
    "F(s, 'o', -3); F(s, 'o', -4); F(s, 'o', -11); F(s, 'o', -12); F(s, 'o', -100)\n"
    "F(s, 'o', 0); F(s, 'o', 1); F(s, 'o', 11); F(s, 'o', 12); F(s, 'o', 13); F(s, 'o', 100)\n"
    "F(s, 'o', math.maxinteger); F(s, 'o', math.mininteger); F(s, 'd', -1)\n"
    "F(s, 'world'); F(s, 'worlds'); F(s, 'hello world'); F(s, 'hello world!')\n"
    "F(s, ''); F(s, '', 5); F(s, '', 11); F(s, '', 12); F(s, '', 13); F(s, '', -1)\n"
    "F(s, '', -20); F(s, '', 0); F(s, '', math.maxinteger); F(s, '', math.mininteger)\n"
    "F('', ''); F('', '', 1); F('', '', 2); F('', '', 0); F('', '', -1); F('', 'a')\n"
    "F('', '.*'); F('', '^'); F('', '$'); F('', '^$'); F('', '.?'); F('', '.'); F('', '.', 2)\n"
    "F('a.b', '.'); F('a.b', '.', 1, true); F('a.b', '.', 1, false); F('a.b', '.', 1, nil)\n"
    "F('a.b', '.', 2, true); F('a.b', '.', 3, true); F('a.b', '.', 4, true)\n"
    "F('a+b', '+', 1, true); F('a+b', 'a+', 1, true); F('a+b', 'a+', 1, 1); F('a+b', 'a+', 1, 'x')\n"
    "F('a+b', 'a+', 1, {}); F('a+b', 'a+'); F('a+b', 'a%+')\n"
    "F('x^y', '^y', 1, true); F('x^y', '^y'); F('^y', '^y'); F('^y', '^^y'); F('^y', '%^y')\n"
    "F('a$', 'a$', 1, true); F('a$', 'a$'); F('a$b', 'a$b'); F('a$b', '$b'); F('$', '$$')\n"
    "F('ab$', '%$'); F('a', 'a$$'); F('a$', 'a$$')\n"
    "F('a\\0b\\0c', '\\0'); F('a\\0b\\0c', '\\0', 3); F('a\\0b\\0c', 'b\\0c'); F('a\\0b\\0c', '\\0c', 1, true)\n"
    "F('a\\0b.c', '\\0b.'); F('a\\0b.c', '\\0b%.'); F('a\\0b+c', 'b+'); F('x\\0', '\\0$'); F('\\0\\0\\0', '\\0+')\n"
    "F('\\0', '%z'); F('a\\0', '[%z]'); F('abc', 'b\\0'); F('ab\\0', 'b\\0', 1, true)\n"
    "F('aaab', 'aab'); F('aaaaab', 'aaab'); F('abababc', 'ababc'); F('xyz', 'xyzz')\n"
    "F(('ab'):rep(100) .. 'c', ('ab'):rep(50) .. 'c'); F(('a'):rep(300), ('a'):rep(200) .. 'b')\n"
    "F(('a'):rep(300), ('a'):rep(200) .. 'b', 1, true); F(('a'):rep(70) .. 'b', ('a'):rep(69) .. 'b')\n"
    "F(12345, 34); F(12345, 34, 3); F(12345, '3'); F(1.5, '.', 1, true); F(1.5, '%.'); F(-1, '-')\n"
    "F('12345', 3.0); F('abc', 'b', 2.0); F('abc', 'b', '2'); F('abc', 'b', ' 2 '); F('abc', 'b', '0x2')\n"
    "F('abc', 'b', 2.5); F('abc', 'b', 'x'); F('abc', 'b', {}); F('abc', 'b', true); F('abc', 'b', nil)\n"
    "F('abc', 'b', 2^63); F('abc', 'b', -2^63); F('abc', 'b', 1e100); F('abc', 'b', 0/0)\n"
    "F(); F('a'); F(nil, 'a'); F({}, 'a'); F('a', {}); F(true, 'a'); F('a', false); F(print, 'a')\n"
    "F('hello', 'l'); F('hello', 'll'); F('hello', 'l+'); F('hello', 'l*'); F('hello', 'x*')\n"
    "F('hello', '^h'); F('hello', '^e'); F('hello', '^hello$'); F('hello', 'o$'); F('hello', 'l$')\n"
    "F('hello', '^l', 3); F('hello', '^l', 2); F('hello', '^', 3); F('hello', '$', 3)\n"
    "F('hello', '^o$', 5); F('hello', '^o$', -1); F('hello', '^', 6); F('hello', '^', 7)\n"
    "F('hello', '(l)(l)'); F('hello', '(h)(e)(l)(l)(o)'); F('hello', '()ll()'); F('hello', '()')\n"
    "F('hello', '(l+)()'); F('hello', '((l)(l))'); F('hello', '(x?)'); F('hello', '()', 6)\n"
    "F('hello', '()', 7); F('hello', '.-()$'); F('hello', '(.-)l'); F('hello', '(.*)l')\n"
    "F('the quick brown fox', '%s(%a+)%s'); F('the quick brown fox', '(%a+)$')\n"
    "F('key = value', '(%w+)%s*=%s*(%w+)'); F('  trim  ', '^%s*(.-)%s*$')\n"
    "for init = -13, 13 do\n"
    "  F(s, 'o', init); F(s, 'o', init, true); F(s, 'l+', init); F(s, '', init); F(s, '^.', init)\n"
    "end\n"
    ;

static const char match_cases[] =
    "-- string.match and the character classes, sets and repetitions.\n"
    "local all = {}\n"
    "for c = 0, 255 do all[#all + 1] = string.char(c) end\n"
    "all = table.concat(all)\n"
    "for _, cl in ipairs{'a', 'c', 'd', 'g', 'l', 'p', 's', 'u', 'w', 'x', 'z'} do\n"
    "  M(all, '%' .. cl .. '+'); M(all, '%' .. cl:upper() .. '+')\n"
    "  M(all, '[%' .. cl .. ']+', 2); M(all, '[^%' .. cl .. ']+', 50)\n"
    "  S(all, '%' .. cl, ''); S(all, '%' .. cl:upper(), '')\n"
    "  S(all, '[%' .. cl .. '_]', '.'); S(all, '[^%' .. cl .. ']', '')\n"
    "end\n"
    "for _, cl in ipairs{'b', 'e', 'f', 'h', 'q', 'y', '.', '%', '[', ']', '(', ')', '-', '^', '$', '*', '?', '+', '1', '\\0', '\\200', '\\255'} do\n"
    "  S(all, '%' .. cl, '#'); M(all, '%' .. cl)\n"
    "end\n"
    "S(all, '.', 'x'); S(all, '[\\128-\\255]', ''); S(all, '[\\0-\\31]', ''); S(all, '[%z\\1-\\31]', '')\n"
    "S(all, '[a-]', '!'); S(all, '[-a]', '!'); S(all, '[a-c-e]', '!'); S(all, '[%a-z]', '!')\n"
    "S(all, '[a%-z]', '!'); S(all, '[]]', '!'); S(all, '[^]]', ''); S(all, '[]a]', '!')\n"
    "S(all, '[%]]', '!'); S(all, '[%[]', '!'); S(all, '[[]', '!'); S(all, '[^^]', ''); S(all, '[%^]', '!')\n"
    "S(all, '[z-a]', '!'); S(all, '[a-a]', '!'); S(all, '[\\255-\\255]', '!'); S(all, '[---]', '!')\n"
    "S(all, '[%%]', '!'); S(all, '[.]', '!'); S(all, '[%.]', '!'); S(all, '[a-%d]', '!'); S(all, '[%d-z]', '!')\n"
    "S(all, '[^%a%d]', ''); S(all, '[%A%D]', '!'); S(all, '[^]', '!'); S(all, '[^%]', '!')\n"
    "M('hello world', '%a+'); M('hello world', '%a+', 6); M('hello world', '%a+', -3)\n"
    "M('hello world', '%a+', 100); M('hello world', '%a+', -100); M('hello world', '%a+', 0)\n"
    "M('hello', '.'); M('hello', '.', 5); M('hello', '.', 6); M('hello', '', 6); M('hello', '', 7)\n"
    "M('hello', '()', 6); M('hello', '()', 7); M('hello', '^()'); M('hello', '()$')\n"
    "M('hello', 'l*'); M('hello', 'l-'); M('hello', 'l?'); M('hello', 'l+'); M('hello', 'hel*o')\n"
    "M('hello', 'he-l'); M('hello', 'x?h'); M('hello', 'h?e'); M('hello', '.-o'); M('hello', '.-$')\n"
    "M('hello', '^(h?)(e?)(x?)'); M('aaa', 'a-b'); M('aaab', 'a-b'); M('aaab', 'a*b'); M('aaab', 'a+b')\n"
    "M('aaab', 'a?b'); M('aaab', 'a?a?a?a?b'); M('b', 'a+b'); M('b', 'a*b'); M('b', 'a-b')\n"
    "M('ab', 'a**'); M('a*', 'a**'); M('a+', 'a+?'); M('aaa', 'a?+'); M('a?', 'a?\?')\n"
    "M('-', '--'); M('a-', 'a--'); M('**', '**'); M('*a', '*a'); M('?', '?'); M('+', '+'); M('+x', '+x')\n"
    "M(' x', '%s*x'); M('x', '%s*x'); M('x', '%s-x'); M('abc', '[abc]*'); M('abc', '[^abc]*')\n"
    "M('2024-06-01', '(%d+)-(%d+)-(%d+)'); M('2024-06-01', '^(%d%d%d%d)-(%d%d)-(%d%d)$')\n"
    "M('  trim me  ', '^%s*(.-)%s*$'); M('path/to/file.txt', '([^/]*)$'); M('path/to/file.txt', '%.(%w+)$')\n"
    "M('path/to/file.txt', '^(.*)/'); M('path/to/file.txt', '^(.-)/'); M('a,b,,c', '([^,]*),([^,]*)')\n"
    "M('x = 1', '^(%w+)%s*=%s*(.+)$'); M('0x1F', '^0[xX](%x+)$'); M('THE (quick) fox', '%((%a+)%)')\n"
    "M('hello', '(h)(e)(l)(l)(o)'); M('hello', '((h)(e))((l)(l))'); M('hello', '(()h())')\n"
    "M('hello', '(h(e(l(l(o)))))'); M('hello', '()(.)()'); M('hello', '(.)%1'); M('hello', '(l)%1')\n"
    "M('hello', '(l)()%1'); M('abcabc', '(abc)%1'); M('abcab', '(abc)%1'); M('aa', '(a*)%1')\n"
    "M('abab', '((a)b)%1%2'); M('abaa', '((a)b)%2%2'); M('xx', '()x%1'); M('x', '(x)%1?')\n"
    "M('abcd', '(a)(b)(c)(d)%4%3'); M('abcddc', '(a)(b)(c)(d)%4%3')\n"
    "M('THE (quick) fox', '%b()'); M('((a)(b))', '%b()'); M('((a)(b)', '%b()'); M('(a))', '%b()')\n"
    "M('if x then y end end', '%bie'); M('[[x]]', '%b[]'); M('a(b', '%b()'); M('))((', '%b)(')\n"
    "M('xax', '%bxx'); M('xaxx', '%bxx'); M('abc', '%baa'); M('<a<b>>c', '(%b<>)(.)'); M('', '%b()')\n"
    "M('f(a(b)c)d', 'f(%b())d'); M('x\\0y\\0', '%b\\0\\0'); M('x\\0yz\\0', '(%b\\0\\0)')\n"
    "M('THE (quick) fox', '%f[%a]%a+'); M('THE (quick) fox', '%f[%a]%a+', 4); M('hello', '%f[%l]')\n"
    "M('hello', '%f[%a]'); M('hello', '%f[%A]'); M('hello', '()%f[%A]'); M('hello world', '%f[%w]%w+$')\n"
    "M('a1b2', '%f[%d]%d'); M('foo bar', '%f[%S]%S+', 4); M('abc', '%f[^a]'); M('abc', '%f[^%z]')\n"
    "M('abc', '()%f[%z]'); M('\\0abc', '%f[%Z]()'); M('ab\\0cd', '%f[%z]()'); M('ab\\0cd', '%f[^%z]()', 3)\n"
    "M('THE (quick) fox', '%f[%a][%a]+%f[%A]', 5); M('xTHEx', '%f[%u]%u+%f[%U]'); M('[a]', '%f[[]')\n"
    "M('a]b', '%f[]]'); M('word', '%f[%w]%w+%f[%W]')\n"
    "M('hello', '^'); M('hello', '^h$'); M('h', '^h$'); M('', '^$'); M('', '$'); M('', '()$')\n"
    "M('$', '^$$'); M('^', '^^'); M('a^', 'a^'); M('a$b', '(.)$(.)'); M('hello', '$', -1)\n"
    "M(123, '%d'); M(1.25, '%d+%.%d+'); M(-7, '^%-'); M(math.maxinteger, '%d+$'); M(2^53, '.+')\n"
    "M('10', 1); M('10', 0, 2); M(); M('x'); M('x', nil); M('x', 'x', 'y'); M('x', 'x', {})\n"
    "M(('a'):rep(100) .. 'b', '(a+)(b)'); M(('a'):rep(1000), 'a-$'); M(('ab'):rep(300), '(ab)*$')\n"
    ;

static const char gmatch_cases[] =
    "-- string.gmatch: iteration, empty matches, captures and the 5.4 init.\n"
    "G('hello world from Lua', '%a+'); G('one two  three', '%S+'); G('k=v, a=b', '(%w+)=(%w+)')\n"
    "G('abc', ''); G('abc', 'x*'); G('abc', '.-'); G('abc', '.?'); G('abc', '.'); G('abc', '()')\n"
    "G('abc', '(.)()'); G('', ''); G('', '.'); G('', '()'); G('aaa', 'a*'); G('aaa', 'a-')\n"
    "G('aaa', 'a?'); G('abaab', 'a*'); G('baaab', 'a*'); G('ab', 'b*'); G('xaaxbx', 'a*')\n"
    "G('hello', '.', 3); G('hello', '.', -2); G('hello', '.', 0); G('hello', '.', 5); G('hello', '.', 6)\n"
    "G('hello', '.', 10); G('hello', '', 5); G('hello', '', 6); G('hello', '', 7); G('hello', '', 100)\n"
    "G('hello', '()', -1); G('hello', '()', -5); G('hello', '()', -6); G('hello', '()', -100)\n"
    "G('hello', 'l*', 3); G('hello', 'l*', 4); G('hello', '', math.maxinteger); G('hello', '', math.mininteger)\n"
    "G('^a^b', '^.'); G('^a^b', '^'); G('aaa', '^a'); G('a$b$', '.$'); G('ab', '$'); G('ab', 'b$')\n"
    "G('a,b,,c,', '([^,]*)'); G('a,b,,c,', '([^,]*),'); G('a,b,,c', '[^,]+'); G('x=1;y=2;', '(%w)=(%d);')\n"
    "G('THE (quick) (brown) fox', '%b()'); G('THE (quick) fox', '%f[%a]%a+'); G('a1b22c333', '%d+')\n"
    "G('a1b22c333', '(%a)(%d*)'); G('one\\ntwo\\n\\nthree', '[^\\n]*'); G('one\\ntwo\\n', '(.-)\\n')\n"
    "G('\\0a\\0b', '%z'); G('\\0a\\0b', '[^%z]'); G(12321, '2'); G(1.5, '%d'); G('abc', 'b', '2')\n"
    "G('abc', 'b', 2.0); G('abc', 'b', 2.5); G('abc', 'b', {}); G(); G('x'); G({}, 'x'); G('x', {})\n"
    "G('abc', '('); G('abc', '%'); G('abc', '[a'); G('abc', ')'); G('abc', '%1'); G('abc', '(()'); G('abc', 'b(')\n"
    "G(('ab'):rep(100), 'ab'); G(('ab'):rep(100), '(a)(b)'); G(('a'):rep(50), 'a-', 40)\n"
    "for init = -7, 7 do\n"
    "  G('hello', '.', init); G('hello', '', init); G('a,b,c', '[^,]*', init); G('aab', 'a*', init)\n"
    "end\n"
    ;

static const char gsub_cases[] =
    "-- string.gsub: string, table and function replacements, n, anchors.\n"
    "local s = 'hello world'\n"
    "S(s, 'o', '0'); S(s, 'o', '0', 1); S(s, 'o', '0', 0); S(s, 'o', '0', -1); S(s, 'o', '0', 2.0)\n"
    "S(s, 'o', '0', 2.5); S(s, 'o', '0', '1'); S(s, 'o', '0', 'x'); S(s, 'o', '0', math.maxinteger)\n"
    "S(s, 'o', '0', math.mininteger); S(s, 'o', '0', nil); S(s, 'o', '0', {}); S(s, 'x', '0')\n"
    "S(s, '', '-'); S(s, '', '-', 3); S('', '', '-'); S('', 'x*', '-'); S('abc', 'x*', '-'); S('abc', '.-', '-')\n"
    "S('abc', '.?', '-'); S('abc', 'b*', '-'); S('abc', '%w*', '-'); S('abc', '%w-', '-'); S('abc', '$', '!')\n"
    "S('abc', '^', '!'); S('abc', '^a', '!'); S('abc', '^b', '!'); S('aaa', '^a', '!'); S('aaa', '^a*', '!')\n"
    "S('aaa', '^', '!', 0); S('abc', '^$', '!'); S('', '^$', '!'); S('abc', '()', '%1'); S('abc', '.()', '%1')\n"
    "S(s, '(o)', '[%1]'); S(s, 'o', '[%0]'); S(s, 'o', '[%1]'); S(s, 'o', '[%2]'); S(s, '(o)', '[%2]')\n"
    "S(s, '(o)', '%%'); S(s, 'o', '%'); S(s, 'o', 'x%'); S(s, 'o', '%a'); S(s, 'o', '%%%0%%'); S(s, 'o', '%-')\n"
    "S(s, 'o', '% '); S(s, 'o', '%\\0'); S(s, 'o', 'a\\0b'); S(s, '(l)(l)', '%2%1'); S(s, '(l)(l)', '%3')\n"
    "S(s, '(l)(l)', '%0%0'); S(s, '(h)(e)(l)(l)(o)( )(w)(o)(r)', '%9%8%7%6%5%4%3%2%1'); S(s, '()l', '%1')\n"
    "S(s, '()(l)()', '<%1%2%3>'); S(s, '(%w+)', '%1 %1'); S(s, '(%w+) (%w+)', '%2 %1'); S(s, '%w+', '%0 %0')\n"
    "S(s, 'l', 5); S(s, 'l', 2.5); S(s, 'l', -0.0); S(s, 'l', math.maxinteger); S(s, 'l', 1e300)\n"
    "S(s, 'l'); S(s, 'l', nil); S(s, 'l', true); S(s, 'l', false); S(s, 'l', print, 'x'); S(s, 'l', nil, 'x')\n"
    "S(s, 'l', coroutine.create(print)); S(s, 'x', nil); S(); S(s); S(nil, 'l', ''); S(s, nil, '')\n"
    "S(12345, '3', 'x'); S(12345, 'x', 'y'); S(12345, '', ''); S(1.5, '%.', ','); S('abc', 'b', 12)\n"
    "S('$x $y $z', '%$(%w+)', {x = 'X', y = false}); S('$x $y', '%$(%w+)', {x = 1, y = 2.5})\n"
    "S('$x $y', '%$(%w+)', {x = {}}); S('$x $y', '%$(%w+)', {x = true}); S('$x', '%$(%w+)', {x = print})\n"
    "S('$x', '%$(%w+)', {}); S('abc', '%w', {a = 'A', c = 'C'}); S('abc', '()', {'one', 'two', 'three'})\n"
    "S('abc', '.()', {'one', 'two', 'three'}); S('abc', '(.)(.)', {a = '1'}); S('abc', '%w+', {abc = 'x'})\n"
    "S('abc', '', {[''] = '-'}); S('abc', 'b', setmetatable({}, {__index = function (_, k) return k:upper() end}))\n"
    "S('a b', '%w', setmetatable({}, {__index = function (_, k) error('no ' .. k) end}))\n"
    "S(s, '%w+', string.upper); S(s, '%w+', function (w) return w:reverse() end)\n"
    "S(s, '(%w)(%w*)', function (a, b) return a:upper() .. b end); S(s, '%w+', function () end)\n"
    "S(s, '%w+', function () return false end); S(s, '%w+', function () return nil, 'x' end)\n"
    "S(s, '%w+', function () return 42 end); S(s, '%w+', function () return 1.5 end)\n"
    "S(s, '%w+', function () return {} end); S(s, '%w+', function () return true end)\n"
    "S(s, '%w+', function () return print end); S(s, '%w+', function () error('stop') end)\n"
    "S(s, '%w+', function () error({}) end); S(s, '%w+', function () error() end)\n"
    "S(s, '%w+', function (w) return w == 'world' and 'there' or nil end)\n"
    "S(s, '%w+', function (...) return select('#', ...) .. '' end); S(s, '()', function (p) return p % 2 == 0 and '.' end)\n"
    "S(s, '()(%w+)()', function (a, w, b) return a .. w .. b end); S(s, '', function () return '|' end)\n"
    "S(s, '%w+', function (w) return w end, 1); S(s, '%w+', function (w) return nil end, 5)\n"
    "S(s, '(o)', function (o) return o:rep(3) end); S(s, 'o', function (...) return select('#', ...) end)\n"
    "S(s, 'o', string.rep); S(s, '(o)(.)', string.rep); S(s, '%w+', tostring); S(s, '%w+', type)\n"
    "S('abc', '%w', '%0%0', 2); S('abc', '%w', '%0%0', 3); S('abc', '%w', '%0%0', 4)\n"
    "S('hello  world', '%s+', ' '); S('  trim  ', '^%s*(.-)%s*$', '%1'); S('a,b,,c', ',', ';')\n"
    "S('camelCaseString', '(%u)', function (c) return '_' .. c:lower() end); S('x\\0y\\0z', '%z', '0')\n"
    "S('x\\0y\\0z', '\\0', '%%'); S(('a'):rep(1000), 'a', 'bb'); S(('ab'):rep(500), 'b', ''); S(('a'):rep(100), '', '.')\n"
    "S('abc', '%f[%w]', '^'); S('one two', '%f[%w]%w+', '<%0>'); S('THE (quick) fox', '%b()', '[]')\n"
    "S('((a)(b))', '%b()', '%0%0'); S('abc', '%ba', 'x'); S('aaa', 'a-', 'x'); S('aaa', 'a-$', 'x')\n"
    "for n = -1, 6 do\n"
    "  S('a,b,,c', ',', ';', n); S('abc', '', '-', n); S('a b c', '%w', function (w) return w:upper() end, n)\n"
    "end\n"
    ;

static const char error_cases[] =
    "-- Malformed patterns and other errors: the exact messages.\n"
    "ALL('abc', '%'); ALL('abc', 'a%'); ALL('abc', '%%%'); ALL('', '%')\n"
    "ALL('abc', '['); ALL('abc', '[a'); ALL('abc', '[^'); ALL('abc', '[^a'); ALL('abc', '[%]')\n"
    "ALL('abc', '[%'); ALL('abc', '[]'); ALL('abc', '[^]'); ALL('abc', 'x['); ALL('abc', '[a-')\n"
    "ALL('abc', '%b'); ALL('abc', '%ba'); ALL('abc', 'a%b'); ALL('abc', '%bab'); ALL('', '%b')\n"
    "ALL('abc', '%f'); ALL('abc', '%fa'); ALL('abc', '%f[a'); ALL('abc', '%f['); ALL('abc', '%f%a')\n"
    "ALL('abc', '('); ALL('abc', '(a'); ALL('abc', 'a('); ALL('abc', '(()'); ALL('abc', 'x(')\n"
    "ALL('abc', ')'); ALL('abc', 'a)'); ALL('abc', '())'); ALL('abc', '(a))'); ALL('abc', 'x)')\n"
    "ALL('abc', '%1'); ALL('abc', '%0'); ALL('abc', '%9'); ALL('abc', '(a%1)'); ALL('abc', '(a)%2')\n"
    "ALL('abc', '(a)%1'); ALL('aa', '(a)%1'); ALL('abc', '()%1'); ALL('abc', '(a)(b)%3')\n"
    "ALL('abc', ('()'):rep(32)); ALL('abc', ('()'):rep(33)); ALL('abc', ('('):rep(33))\n"
    "ALL('abc', ('(a)'):rep(32)); ALL('abc', ('(.?)'):rep(33)); ALL(('a'):rep(40), ('(a)'):rep(33))\n"
    "ALL(('a'):rep(300), ('a?'):rep(300)); ALL(('a'):rep(199), ('a?'):rep(199))\n"
    "ALL(('a'):rep(210), ('a*'):rep(210)); ALL(('a'):rep(200), ('a?'):rep(200))\n"
    "ALL(('a'):rep(300), ('a'):rep(300)); ALL('', ('a*'):rep(300)); ALL('x', ('x?'):rep(250))\n"
    "ALL('abc', ('%w-'):rep(250) .. '$'); ALL(('a'):rep(250), ('(a?)'):rep(10) .. ('a?'):rep(240))\n"
    "S('abc', '(a', 'x'); S('abc', '(a', '%1'); S('abc', '(a', '%0'); S('abc', '(a', function () end)\n"
    "S('abc', '(a', {}); S('abc', 'b', '%1'); S('abc', '(b)', '%2'); S('abc', '()', '%2')\n"
    "S('abc', 'b', '%'); S('abc', 'b', '%x'); S('abc', 'b', '%%%'); S('abc', 'b', ('%1'):rep(10))\n"
    "S('abc', '%', 'x'); S('abc', '[', 'x'); S('', ')', 'x'); S('abc', 'x', '%'); S('abc', 'x', '%2')\n"
    ;

static const char fuzz_cases[] =
    "-- Random patterns against random subjects, with a fixed seed.\n"
    "math.randomseed(5404)\n"
    "local atoms = {'a', 'b', 'c', 'x', '.', '%a', '%d', '%s', '%w', '%W', '%p', '%%', '%.',\n"
    "  '[ab]', '[^a]', '[a-c]', '[%d ]', '[]]', '(', ')', '()', '(a)', '(.)', '%1', '%2',\n"
    "  '%b()', '%bab', '%f[%w]', '%f[%W]', '%f[a]', '$', '^', ' ', '1', '-', '*', '?', '[', '%'}\n"
    "local suffixes = {'', '', '', '*', '+', '-', '?'}\n"
    "local chars = {'a', 'b', 'c', 'x', '1', '2', ' ', '(', ')', '.', '%', '-', '\\0'}\n"
    "local function random_pattern()\n"
    "  local out = {}\n"
    "  if math.random(5) == 1 then out[1] = '^' end\n"
    "  for _ = 1, math.random(0, 6) do\n"
    "    out[#out + 1] = atoms[math.random(#atoms)] .. suffixes[math.random(#suffixes)]\n"
    "  end\n"
    "  if math.random(5) == 1 then out[#out + 1] = '$' end\n"
    "  return table.concat(out)\n"
    "end\n"
    "local function random_subject()\n"
    "  local out = {}\n"
    "  for i = 1, math.random(0, 12) do out[i] = chars[math.random(#chars)] end\n"
    "  return table.concat(out)\n"
    "end\n"
    "local function fn(...) return select('#', ...) % 2 == 0 and (...) or nil end\n"
    "for _ = 1, FUZZ_ROUNDS do\n"
    "  local s, p = random_subject(), random_pattern()\n"
    "  local init = math.random(-14, 14)\n"
    "  F(s, p); F(s, p, init); M(s, p); M(s, p, init); G(s, p); G(s, p, init)\n"
    "  S(s, p, '<%0>'); S(s, p, '%1', math.random(-1, 3)); S(s, p, fn); S(s, p, {a = 'A', b = false})\n"
    "end\n"
    ;

#define FUZZ_ROUNDS 1500

/* Returns a state with the originals saved and ours installed; close it
   with lua_close(). */
static lua_State *open_state(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_getglobal(L, "string");
    static const char *const names[] = { "find", "match", "gmatch", "gsub" };
    for (size_t i = 0; i < BO_COUNT(names); i++) {
        char global[32];
        snprintf(global, sizeof global, "orig_%s", names[i]);
        lua_getfield(L, -1, names[i]);
        lua_setglobal(L, global);
    }
    bo_lpattern_install(L);
    lua_pop(L, 1);
    return L;
}

/* Runs a chunk; on an error prints it and returns false. */
static bool run_chunk(lua_State *L, const char *chunk, const char *name)
{
    if (luaL_loadbuffer(L, chunk, strlen(chunk), name) != LUA_OK ||
        lua_pcall(L, 0, 0, 0) != LUA_OK) {
        printf("  %s: %s\n", name, lua_tostring(L, -1));
        lua_pop(L, 1);
        return false;
    }
    return true;
}

/* Runs a table of cases and checks that none differed from Lua's and that
   at least min_cases ran. */
static void run_cases(const char *chunk, const char *name, int min_cases)
{
    lua_State *L = open_state();
    lua_pushinteger(L, FUZZ_ROUNDS);
    lua_setglobal(L, "FUZZ_ROUNDS");
    CHECK(run_chunk(L, prelude, "=prelude"));
    CHECK(run_chunk(L, chunk, name));

    lua_getglobal(L, "failures");
    lua_Integer nfailed = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= nfailed && i <= 20; i++) {
        lua_geti(L, -1, i);
        printf("  differs: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    CHECK_EQ_INT(nfailed, 0);
    lua_getglobal(L, "ncases");
    CHECK(lua_tointeger(L, -1) >= min_cases);
    lua_close(L);
}

TEST(find_matches_lua)
{
    run_cases(find_cases, "=find", 200);
}

TEST(match_and_classes_match_lua)
{
    run_cases(match_cases, "=match", 300);
}

TEST(gmatch_matches_lua)
{
    run_cases(gmatch_cases, "=gmatch", 100);
}

TEST(gsub_matches_lua)
{
    run_cases(gsub_cases, "=gsub", 150);
}

TEST(errors_match_lua)
{
    run_cases(error_cases, "=errors", 200);
}

TEST(random_patterns_match_lua)
{
    run_cases(fuzz_cases, "=fuzz", FUZZ_ROUNDS * 10);
}

/* Runs code (as chunk "t") that returns one value and leaves it on the
   stack; returns false (with the message on the stack) on an error. */
static bool eval(lua_State *L, const char *code)
{
    return luaL_loadbuffer(L, code, strlen(code), "=t") == LUA_OK &&
           lua_pcall(L, 0, 1, 0) == LUA_OK;
}

TEST(install_replaces_only_the_four)
{
    lua_State *L = open_state();
    lua_getglobal(L, "string");
    int top = lua_gettop(L);
    lua_getfield(L, -1, "rep");
    lua_CFunction rep = lua_tocfunction(L, -1);
    lua_pop(L, 1);
    bo_lpattern_install(L);
    CHECK_EQ_INT(lua_gettop(L), top);
    lua_getfield(L, -1, "rep");
    CHECK(lua_tocfunction(L, -1) == rep);
    lua_pop(L, 2);
    CHECK(eval(L, "return string.find ~= orig_find and string.match ~= orig_match and "
                  "string.gmatch ~= orig_gmatch and string.gsub ~= orig_gsub"));
    CHECK(lua_toboolean(L, -1));
    lua_pop(L, 1);
    /* Methods go through the string table too. */
    CHECK(eval(L, "local s = 'x' return s.find == string.find and s.gsub == string.gsub"));
    CHECK(lua_toboolean(L, -1));
    lua_close(L);
}

TEST(find_returns_integer_positions)
{
    lua_State *L = open_state();
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "find");
    lua_pushliteral(L, "hello");
    lua_pushliteral(L, "l(l)()");
    CHECK_EQ_INT(lua_pcall(L, 2, LUA_MULTRET, 0), LUA_OK);
    CHECK_EQ_INT(lua_gettop(L), 5);
    CHECK(lua_isinteger(L, 2) && lua_tointeger(L, 2) == 3);
    CHECK(lua_isinteger(L, 3) && lua_tointeger(L, 3) == 4);
    CHECK(lua_type(L, 4) == LUA_TSTRING);
    CHECK_STR(lua_tostring(L, 4), "l");
    CHECK(lua_isinteger(L, 5) && lua_tointeger(L, 5) == 5);
    lua_close(L);
}

TEST(errors_carry_lua_messages)
{
    lua_State *L = open_state();
    static const struct { const char *code, *message; } cases[] = {
        { "('abc'):find('%')", "malformed pattern (ends with '%')" },
        { "('abc'):match('[a')", "malformed pattern (missing ']')" },
        { "('abc'):find('%b')", "malformed pattern (missing arguments to '%b')" },
        { "('abc'):find('%fx')", "missing '[' after '%f' in pattern" },
        { "('abc'):match('(a')", "unfinished capture" },
        { "('abc'):match('a)')", "invalid pattern capture" },
        { "('abc'):find('%1')", "invalid capture index %1" },
        { "('abc'):gsub('b', '%2')", "invalid capture index %2" },
        { "('abc'):gsub('b', '%x')", "invalid use of '%' in replacement string" },
        { "('abc'):gsub('b', {b = {}})", "invalid replacement value (a table)" },
        { "('abc'):find(('()'):rep(33))", "too many captures" },
        { "('a'):rep(300):find(('a?'):rep(300))", "pattern too complex" },
        { "('abc'):gsub('b')",
          "bad argument #2 to 'gsub' (string/function/table expected, got no value)" },
        { "('abc'):find('b', 1.5)",
          "bad argument #2 to 'find' (number has no integer representation)" },
        { "string.gmatch()", "bad argument #1 to 'gmatch' (string expected, got no value)" },
    };
    /* luaL_error() prefixes the position of the Lua code that called. */
    for (size_t i = 0; i < BO_COUNT(cases); i++) {
        char code[256], message[256];
        snprintf(code, sizeof code,
                 "local ok, e = pcall(function () local r = %s end) return e", cases[i].code);
        snprintf(message, sizeof message, "t:1: %s", cases[i].message);
        CHECK(eval(L, code));
        CHECK_STR(lua_tostring(L, -1), message);
        lua_pop(L, 1);
    }
    lua_close(L);
}

TEST(gsub_returns_the_subject_itself_when_unchanged)
{
    lua_State *L = open_state();
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "gsub");
    lua_pushliteral(L, "a long enough subject, not an interned short string");
    const char *subject = lua_tostring(L, -1);
    lua_pushliteral(L, "%d");
    lua_pushliteral(L, "#");
    CHECK_EQ_INT(lua_pcall(L, 3, 2, 0), LUA_OK);
    CHECK(lua_tostring(L, -2) == subject);
    CHECK_EQ_INT(lua_tointeger(L, -1), 0);
    lua_close(L);
}

TEST(gmatch_iterator_outlives_its_arguments)
{
    lua_State *L = open_state();
    /* The subject is built, so only the iterator holds it; the iterator
       is then run on another coroutine than the one that made it. */
    CHECK(eval(L, "local it = string.gmatch(('ab'):rep(1000) .. 'c', '(a)(b)()')\n"
                  "collectgarbage() collectgarbage()\n"
                  "local n, last = 0\n"
                  "local co = coroutine.wrap(function ()\n"
                  "  for a, b, p in it do n = n + 1; last = p; coroutine.yield() end\n"
                  "end)\n"
                  "for _ = 1, 1001 do co() end\n"
                  "return n .. ' ' .. last .. ' ' .. select('#', it())"));
    CHECK_STR(lua_tostring(L, -1), "1000 2001 0");
    lua_close(L);
}

TEST(large_subjects_work)
{
    lua_State *L = open_state();
    CHECK(eval(L, "local s = ('word '):rep(200000)\n"
                  "local t, n = s:gsub('%w+', string.upper)\n"
                  "local count = 0\n"
                  "for _ in t:gmatch('WORD') do count = count + 1 end\n"
                  "return n .. ' ' .. count .. ' ' .. #t .. ' ' .. select(2, s:find('.*()'))"));
    CHECK_STR(lua_tostring(L, -1), "200000 200000 1000000 1000000");
    lua_close(L);
}

static const unit_case cases[] = {
    UNIT_CASE(find_matches_lua)
    UNIT_CASE(match_and_classes_match_lua)
    UNIT_CASE(gmatch_matches_lua)
    UNIT_CASE(gsub_matches_lua)
    UNIT_CASE(errors_match_lua)
    UNIT_CASE(random_patterns_match_lua)
    UNIT_CASE(install_replaces_only_the_four)
    UNIT_CASE(find_returns_integer_positions)
    UNIT_CASE(errors_carry_lua_messages)
    UNIT_CASE(gsub_returns_the_subject_itself_when_unchanged)
    UNIT_CASE(gmatch_iterator_outlives_its_arguments)
    UNIT_CASE(large_subjects_work)
};

int main(void)
{
    return UNIT_RUN("lpattern", cases);
}
