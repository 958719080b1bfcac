import { memo, useId } from "react";

import { Icon } from "../../components/Icon";

interface SearchFieldProps {
  value: string;
  onChange: (value: string) => void;
  label: string;
  placeholder?: string;
}

export const SearchField = memo(function SearchField({ value, onChange, label, placeholder }: SearchFieldProps) {
  const id = useId();
  return (
    <div className="search-field" role="search">
      <label htmlFor={id} className="visually-hidden">
        {label}
      </label>
      <Icon name="search" size={16} />
      <input
        id={id}
        type="search"
        value={value}
        placeholder={placeholder}
        autoComplete="off"
        spellCheck={false}
        onChange={(event) => onChange(event.target.value)}
      />
    </div>
  );
});
