// React reads this flag to know that tests wrap updates in act().
declare var IS_REACT_ACT_ENVIRONMENT: boolean;
