--- English messages: every string the platform shows (component defaults,
-- the page layout, error pages). An app may add its own keys with
-- borough.messages("en", { ... }). %{name} is replaced by vars.name.
return {
  -- the page layout
  ["layout.skip_link"] = "Skip to main content",
  ["layout.service"] = "Service information",
  ["layout.language"] = "Language",
  ["layout.switch_to"] = "Cymraeg",           -- the link to the other language, in that language
  ["layout.support_links"] = "Support links",
  ["layout.copyright"] = "© %{name}",

  -- components
  ["back_link.text"] = "Back",
  ["breadcrumbs.label"] = "Breadcrumb",
  ["character_count.description.characters"] = "You can enter up to %{count} characters",
  ["character_count.description.words"] = "You can enter up to %{count} words",
  ["date_input.day"] = "Day",
  ["date_input.month"] = "Month",
  ["date_input.year"] = "Year",
  ["error_message.prefix"] = "Error",
  ["error_summary.title"] = "There is a problem",
  ["notification_banner.important"] = "Important",
  ["notification_banner.success"] = "Success",
  ["pagination.label"] = "Pagination",
  ["pagination.previous"] = "Previous",
  ["pagination.next"] = "Next",
  ["pagination.page_hidden"] = " page",       -- visually hidden after Previous/Next
  ["pagination.page_number"] = "Page %{number}",
  ["summary_list.change"] = "Change",
  ["warning_text.icon"] = "Warning",
  ["footer.support_links"] = "Support links",

  -- error pages
  ["error.csrf.title"] = "You cannot do that",
  ["error.csrf.text"] = "The form may have expired. Go back, reload the page and try again.",
  ["error.404.title"] = "Page not found",
  ["error.404.text"] = "If you typed the web address, check it is correct.",
  ["error.405.title"] = "Method not allowed",
  ["error.405.text"] = "This page does not accept that kind of request.",
  ["error.500.title"] = "Sorry, there is a problem with the service",
  ["error.500.text"] = "Try again later.",
  ["error.500.reference"] = "Reference: %{id}",
  ["error.503.title"] = "Sorry, the service is unavailable",
  ["error.503.text"] = "You will be able to use the service later.",

  -- uploads
  ["upload.too_large"] = "The selected file must be smaller than %{size}",
  ["upload.wrong_type"] = "The selected file must be a %{types}",
  ["upload.or"] = "or",
}
