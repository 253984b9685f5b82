-- Give feedback on a council service: a public form that asks one thing
-- per page, and pages for staff to read what people sent.
local app = borough.app { title = "Give feedback on a council service", roles = { "staff" } }
local Feedback = require("models").Feedback

-- The start page.
app:get("/", { public = true }, function(req)
  return borough.view("start", { title = "Give feedback on a council service" })
end)

-- The form: one question per page, then check your answers, then a
-- confirmation with a reference number. The answers are kept as a draft
-- until they are sent.
borough.flow {
  name = "feedback",
  entity = Feedback,
  reference = "reference",
  pages = {
    { "service", question = "Which service do you want to give feedback on?" },
    { "rating", question = "Overall, how did you feel about the service?" },
    { "comments", question = "How could we improve the service?",
      hint = "Do not include personal or financial information, like your National Insurance number." },
    { "email", question = "What is your email address?",
      hint = "Only if you would like us to reply to you." },
  },
  check = { title = "Check your answers before sending your feedback", submit = "Send feedback" },
  done = { title = "Feedback sent",
           text = "Thank you for your feedback. We read every response and use it to improve our services." },
}:mount(app, "/feedback", { public = true, back = "/" })

-- Pages for staff: the list of feedback (sortable, searchable), each
-- response, and a form to add notes.
borough.pages(Feedback, {
  title = "Feedback received",
  columns = { "reference", "service", "rating", "created_at" },
  filters = { "service", "rating" },
  fields = { "notes" },
  create = false,
}):mount(app, "/responses", { role = "staff" })

return app
