-- pandoc filter for the docs site (tests/docs_site/guides.py): a link to another guide (name.md) becomes a Sphinx
-- reference to that guide's page; a link to any other file of the repository, which the site does not have,
-- becomes its path as literal text. Web links stay links.
local prefix = "ansible_collections.mailops.live_smtp.docsite."

function Link(el)
  local target = el.target
  if target:match("^%a[%w+.-]*:") or target:match("^#") then
    return nil
  end
  local text = pandoc.utils.stringify(el.content)
  local guide = target:match("^([%w_-]+)%.md$") or target:match("^([%w_-]+)%.md#")
  if guide then
    return pandoc.RawInline("rst", ":ref:`" .. text:gsub("[<>`]", "") .. " <" .. prefix .. guide .. ">`")
  end
  if text == target then
    return pandoc.Code(target)
  end
  local out = el.content
  table.insert(out, pandoc.Str(" ("))
  table.insert(out, pandoc.Code(target))
  table.insert(out, pandoc.Str(")"))
  return out
end

-- pandoc leaves "roles/*/files" unescaped, which docutils reads as the start of an emphasis.
function Str(el)
  if not el.text:find("*", 1, true) then
    return nil
  end
  local out = {}
  for piece, star in el.text:gmatch("([^*]*)(%*?)") do
    if piece ~= "" then
      table.insert(out, pandoc.Str(piece))
    end
    if star ~= "" then
      table.insert(out, pandoc.RawInline("rst", "\\*"))
    end
  end
  return out
end
