/*
 * test_safeurl.c - the scheme check for URLs in HTML attributes, on the
 * shapes browsers read as a script URL: entities, white space, control
 * characters, case, and a value split into pieces.
 */
#include "safeurl.h"
#include "unit.h"

static bool one(const char *s, bool html)
{
    bo_str p = { s, strlen(s) };
    return bo_safeurl_allowed(&p, 1, html);
}

TEST(allows_relative_urls_and_the_four_schemes)
{
    static const char *const good[] = {
        "", "/cases/1", "cases/1", "#main", "?page=2", "//cdn.example/x", "/a:b", "a/b:c",
        "https://www.gov.uk/x?a=1&b=2", "HTTP://X", "mailto:a@b.gov.uk", "tel:01234", " /x",
        "page.html?x=javascript:y",
    };
    for (size_t i = 0; i < BO_COUNT(good); i++) {
        CHECK(one(good[i], false));
        CHECK(one(good[i], true));
    }
}

TEST(refuses_script_and_data_urls_however_written)
{
    static const char *const bad[] = {
        "javascript:alert(1)", "JavaScript:alert(1)", " javascript:x", "\n\tjavascript:x",
        "\x01javascript:x", "java\tscript:x", "java\nscript:x", "java\rscript:x", "data:text/html,x",
        "vbscript:x", "jAvAsCrIpT&colon;x:", "12:30", "httpx:y", "ftp://x",
    };
    for (size_t i = 0; i < BO_COUNT(bad); i++) {
        CHECK(!one(bad[i], false));
        CHECK(!one(bad[i], true));
    }
    bo_str nul = BO_STR("\0javascript:x");
    CHECK(!bo_safeurl_allowed(&nul, 1, false));
}

TEST(decodes_character_references_in_html)
{
    static const char *const bad[] = {
        "javascript&colon;alert(1)", "javascript&#58;alert(1)", "javascript&#x3A;x", "javascript&#X3a;x",
        "javascript&#0000058x", "&#106;avascript:x", "&#x6A;avascript:x", "java&Tab;script:x",
        "java&#9;script:x", "&#32;javascript:x", "&NewLine;javascript:x", "java&unknown;script/x",
        "&fjlig;x:", "j&#97;v&#97;script&#58;",
    };
    for (size_t i = 0; i < BO_COUNT(bad); i++)
        CHECK(!one(bad[i], true));
    /* As plain text (a component's value, escaped after) the browser sees
       the '&' itself: no colon, a relative URL. */
    CHECK(one("javascript&#58;alert(1)", false));
    static const char *const good[] = {
        "/x?a=1&amp;b=2", "&amp;x", "h&#116;tps://x", "javascript&sol;x:y", "&#47;x:y", "&lt;x",
        "x&amp", "?q=&unknown;",
    };
    for (size_t i = 0; i < BO_COUNT(good); i++)
        CHECK(one(good[i], true));
}

TEST(reads_pieces_as_one_value)
{
    bo_str bad[] = { BO_STR(""), BO_STR(" "), BO_STR("java"), BO_STR(""), BO_STR("script"),
                     BO_STR("&#5"), BO_STR("8;alert(1)") };
    CHECK(!bo_safeurl_allowed(bad, BO_COUNT(bad), true));
    bo_str good[] = { BO_STR(""), BO_STR("/cases/"), BO_STR("javascript:x") };
    CHECK(bo_safeurl_allowed(good, BO_COUNT(good), true));
    bo_str empty[] = { BO_STR(""), BO_STR("") };
    CHECK(bo_safeurl_allowed(empty, BO_COUNT(empty), true));
    CHECK(bo_safeurl_allowed(NULL, 0, true));
}

TEST(decides_from_a_prefix_only_when_the_rest_cannot_change_it)
{
    CHECK_EQ_INT(bo_safeurl_prefix("/cases/", 7, true), 1);
    CHECK_EQ_INT(bo_safeurl_prefix("?page=", 6, true), 1);
    CHECK_EQ_INT(bo_safeurl_prefix("#", 1, true), 1);
    CHECK_EQ_INT(bo_safeurl_prefix("https://x/", 10, true), 1);
    CHECK_EQ_INT(bo_safeurl_prefix("mailto:", 7, true), 1);
    CHECK_EQ_INT(bo_safeurl_prefix("javascript:", 11, true), 0);
    CHECK_EQ_INT(bo_safeurl_prefix("", 0, true), -1);
    CHECK_EQ_INT(bo_safeurl_prefix(" ", 1, true), -1);
    CHECK_EQ_INT(bo_safeurl_prefix("java", 4, true), -1);
    CHECK_EQ_INT(bo_safeurl_prefix("cases", 5, true), -1);
    CHECK_EQ_INT(bo_safeurl_prefix("&#4", 3, true), -1);          /* "&#47;" or "&#470;"? */
    CHECK_EQ_INT(bo_safeurl_prefix("&amp;/", 6, true), -1);
    CHECK_EQ_INT(bo_safeurl_prefix("&amp;/", 6, false), 1);
}

static const unit_case cases[] = {
    UNIT_CASE(allows_relative_urls_and_the_four_schemes)
    UNIT_CASE(refuses_script_and_data_urls_however_written)
    UNIT_CASE(decodes_character_references_in_html)
    UNIT_CASE(reads_pieces_as_one_value)
    UNIT_CASE(decides_from_a_prefix_only_when_the_rest_cannot_change_it)
};

int main(void)
{
    return UNIT_RUN("safeurl", cases);
}
