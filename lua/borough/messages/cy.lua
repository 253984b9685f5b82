--- Welsh messages (Cymraeg): the same keys as en.lua. Wording follows the
-- Welsh used across GOV.UK services; a council's Welsh language team should
-- review any change.
return {
  -- the page layout
  ["layout.skip_link"] = "Neidio i’r prif gynnwys",
  ["layout.service"] = "Gwybodaeth am y gwasanaeth",
  ["layout.language"] = "Iaith",
  ["layout.switch_to"] = "English",
  ["layout.support_links"] = "Dolenni cymorth",
  ["layout.copyright"] = "© %{name}",

  -- components
  ["back_link.text"] = "Yn ôl",
  ["breadcrumbs.label"] = "Briwsion bara",
  ["character_count.description.characters"] = "Gallwch nodi hyd at %{count} o gymeriadau",
  ["character_count.description.words"] = "Gallwch nodi hyd at %{count} o eiriau",
  ["date_input.day"] = "Diwrnod",
  ["date_input.month"] = "Mis",
  ["date_input.year"] = "Blwyddyn",
  ["error_message.prefix"] = "Gwall",
  ["error_summary.title"] = "Mae problem wedi codi",
  ["notification_banner.important"] = "Pwysig",
  ["notification_banner.success"] = "Llwyddiant",
  ["pagination.label"] = "Tudalennu",
  ["pagination.previous"] = "Blaenorol",
  ["pagination.next"] = "Nesaf",
  ["pagination.page_hidden"] = "",             -- "tudalen" would come first in Welsh
  ["pagination.page_number"] = "Tudalen %{number}",
  ["summary_list.change"] = "Newid",
  ["warning_text.icon"] = "Rhybudd",
  ["footer.support_links"] = "Dolenni cymorth",

  -- error pages
  ["error.csrf.title"] = "Ni allwch wneud hynny",
  ["error.csrf.text"] = "Efallai bod y ffurflen wedi dod i ben. Ewch yn ôl, ail-lwythwch y dudalen a rhowch gynnig arall arni.",
  ["error.404.title"] = "Heb ddod o hyd i’r dudalen",
  ["error.404.text"] = "Os gwnaethoch deipio’r cyfeiriad gwe, gwiriwch ei fod yn gywir.",
  ["error.405.title"] = "Ni chaniateir y dull hwn",
  ["error.405.text"] = "Nid yw’r dudalen hon yn derbyn y math hwnnw o gais.",
  ["error.500.title"] = "Mae’n ddrwg gennym, mae problem gyda’r gwasanaeth",
  ["error.500.text"] = "Rhowch gynnig arall arni yn nes ymlaen.",
  ["error.500.reference"] = "Cyfeirnod: %{id}",
  ["error.503.title"] = "Mae’n ddrwg gennym, nid yw’r gwasanaeth ar gael",
  ["error.503.text"] = "Byddwch yn gallu defnyddio’r gwasanaeth yn nes ymlaen.",

  -- uploads
  ["upload.too_large"] = "Mae’n rhaid i’r ffeil a ddewiswyd fod yn llai na %{size}",
  ["upload.wrong_type"] = "Mae’n rhaid i’r ffeil a ddewiswyd fod yn %{types}",
  ["upload.or"] = "neu",
}
